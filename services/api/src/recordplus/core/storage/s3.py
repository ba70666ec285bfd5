"""ObjectStore on an S3-compatible bucket (S3, MinIO, R2; moto in tests) through plain boto3.

`concat` is one multipart upload: pieces of at least PART_MIN bytes are copied server-side
(UploadPartCopy: the bytes never leave S3); smaller ones are read and buffered into parts of at
least PART_MIN bytes, so memory stays bounded whatever the video's size.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from recordplus.core.storage.base import (
    COPY_BUFFER,
    ConcatResult,
    HashingReader,
    ObjectStore,
    Piece,
    Progress,
    Written,
    content_disposition,
)

logger = logging.getLogger(__name__)

PART_MIN = 5 * 1024 * 1024  # S3's minimum size for every part but the last
PART_TARGET = 8 * 1024 * 1024  # buffered parts are flushed once they reach this
_MISSING = {"404", "NoSuchKey", "NotFound"}


def _transfer_config() -> Any:
    """boto3's managed transfers, bounded: by default they run 10 threads of 8 MiB parts, queue up
    to 100 blocks for the file writer and read a stream 10 parts ahead — 100+ MiB in flight in an
    assembler that otherwise streams in 1 MiB buffers. Two threads keep a large object moving."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=PART_TARGET,
        multipart_chunksize=PART_TARGET,
        max_concurrency=2,
        max_io_queue=16,
        io_chunksize=256 * 1024,
    )
    # A stream (not a seekable file) is read ahead into parts held in memory: at most one more
    # than the threads sending (s3transfer's setting; boto3's own class does not take it).
    config.max_in_memory_upload_chunks = 3
    return config


class _PartWriter:
    """The parts of one multipart upload, in order."""

    def __init__(self, client: Any, bucket: str, key: str, upload_id: str) -> None:
        self.client, self.bucket, self.key, self.upload_id = client, bucket, key, upload_id
        self.parts: list[dict[str, Any]] = []
        self.buffer = bytearray()
        self.copied_parts = 0
        self.buffered_parts = 0

    @property
    def next_number(self) -> int:
        return len(self.parts) + 1

    def flush(self) -> None:
        if not self.buffer:
            return
        response = self.client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=self.next_number, Body=bytes(self.buffer)
        )
        self.parts.append({"PartNumber": self.next_number, "ETag": response["ETag"]})
        self.buffer = bytearray()
        self.buffered_parts += 1

    def add_bytes(self, data: bytes) -> None:
        self.buffer.extend(data)
        if len(self.buffer) >= PART_TARGET:
            self.flush()

    def copy(self, source_key: str, start: int, end: int) -> None:
        """Server-side copy of bytes start..end (inclusive) of `source_key` as the next part."""
        response = self.client.upload_part_copy(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=self.next_number,
            CopySource={"Bucket": self.bucket, "Key": source_key},
            CopySourceRange=f"bytes={start}-{end}",
        )
        self.parts.append({"PartNumber": self.next_number, "ETag": response["CopyPartResult"]["ETag"]})
        self.copied_parts += 1


class S3Store(ObjectStore):
    kind = "s3"

    def __init__(
        self,
        client: Any,
        bucket: str,
        *,
        public_client: Any | None = None,
        presign_seconds: int = 300,
        create_bucket: bool = False,
        region: str = "us-east-1",
    ) -> None:
        self.client = client
        self.bucket = bucket
        # Presigned URLs are signed for the endpoint browsers reach, which may differ from ours.
        self.public_client = public_client or client
        self.presign_seconds = presign_seconds
        self.create_bucket = create_bucket
        self.region = region

    def write(self, key: str, fileobj: IO[bytes], *, content_type: str = "application/octet-stream") -> Written:
        reader = HashingReader(fileobj)
        self.client.upload_fileobj(
            reader, self.bucket, key, ExtraArgs={"ContentType": content_type}, Config=_transfer_config()
        )
        return reader.written()

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        if end < start:
            return
        body = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]
        try:
            yield from body.iter_chunks(COPY_BUFFER)
        finally:
            body.close()

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise FileNotFoundError(f"no object {key!r} in bucket {self.bucket!r}")
        return int(head["ContentLength"])

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted

    def download(self, key: str, dest: Path) -> int:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, key, str(dest), Config=_transfer_config())
        return dest.stat().st_size

    def _read(self, key: str, start: int, end: int) -> Any:
        return self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]

    def abort_incomplete(self, dest_key: str) -> int:
        """Abort multipart uploads to exactly `dest_key` left by a crashed run; how many."""
        return self._abort_uploads(dest_key, exact=True)

    def _abort_uploads(self, prefix: str, *, exact: bool) -> int:
        aborted = 0
        response = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=prefix)
        for upload in response.get("Uploads", []):
            if not exact or upload["Key"] == prefix:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                aborted += 1
        return aborted

    def concat(self, pieces: Sequence[Piece], dest_key: str, progress: Progress | None = None) -> ConcatResult:
        self.abort_incomplete(dest_key)
        total_size = sum(p.size for p in pieces)
        if total_size < PART_MIN:
            # One small object: a plain copy-through is simpler than a one-part multipart upload.
            data = bytearray()
            for piece in pieces:
                data.extend(self.client.get_object(Bucket=self.bucket, Key=piece.key)["Body"].read())
            self.client.put_object(Bucket=self.bucket, Key=dest_key, Body=bytes(data))
            if progress:
                progress(1.0)
            return ConcatResult(size=len(data), copied_parts=0, buffered_parts=1 if data else 0)

        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=dest_key)["UploadId"]
        writer = _PartWriter(self.client, self.bucket, dest_key, upload_id)
        done = 0
        try:
            for piece in pieces:
                start = 0
                if writer.buffer and piece.size >= PART_MIN:
                    # Top the buffer up to a valid part from the head of this piece, then copy the rest.
                    need = PART_MIN - len(writer.buffer)
                    if need > 0:
                        head = min(need, piece.size)
                        writer.buffer.extend(self._read(piece.key, 0, head - 1).read())
                        start = head
                    writer.flush()
                remaining = piece.size - start
                if remaining >= PART_MIN and not writer.buffer:
                    writer.copy(piece.key, start, piece.size - 1)
                elif remaining > 0:
                    for data in self._read(piece.key, start, piece.size - 1).iter_chunks(COPY_BUFFER):
                        writer.add_bytes(data)
                done += piece.size
                if progress:
                    progress(done / (total_size or 1))
            writer.flush()
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=dest_key, UploadId=upload_id, MultipartUpload={"Parts": writer.parts}
            )
        except BaseException:
            # The abort is clean-up: if it fails too (the upload may already be gone: NoSuchUpload
            # after a CompleteMultipartUpload that failed half-way), the cause that matters stays
            # the one raised — a transient 500 must remain retryable, not become a permanent failure.
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=dest_key, UploadId=upload_id)
            except Exception as abort_error:  # noqa: BLE001 - logged; the first error is re-raised
                logger.warning("could not abort the multipart upload of %s: %s", dest_key, abort_error)
            raise
        return ConcatResult(size=total_size, copied_parts=writer.copied_parts, buffered_parts=writer.buffered_parts)

    def presigned_url(
        self, key: str, *, content_type: str | None = None, filename: str | None = None, attachment: bool = False
    ) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename, attachment=attachment)
        return self.public_client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_seconds)

    def remove_temporaries(self, prefix: str) -> int:
        return self._abort_uploads(prefix, exact=False)

    def ensure_ready(self) -> None:
        if not self.create_bucket:
            return
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            extra = {}
            if self.region and self.region != "us-east-1":
                extra["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self.client.create_bucket(Bucket=self.bucket, **extra)

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)
