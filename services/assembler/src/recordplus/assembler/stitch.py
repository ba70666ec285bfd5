"""Concatenate stored chunks into one object, with memory bounded whatever the video's size.

On S3 this is a multipart upload: chunks of at least PART_MIN bytes are copied server-side
(UploadPartCopy, the bytes never leave S3); smaller chunks are read and buffered into parts of
at least PART_MIN bytes. On the filesystem it is a streamed concatenation to a temporary file
that is renamed into place. Both overwrite the destination, so re-running converges.

Imports neither Django nor Dramatiq: callers pass the storage facts in.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PART_MIN = 5 * 1024 * 1024  # S3's minimum size for every part but the last
PART_TARGET = 8 * 1024 * 1024  # buffered parts are flushed once they reach this
READ_PIECE = 1024 * 1024


@dataclass(frozen=True)
class Piece:
    key: str
    size: int


Progress = Callable[[float], None]


def remove_stale_temporaries(folder: Path) -> int:
    """Delete `.stitch-*` files left by runs killed half-way; call when no run is active."""
    removed = 0
    for stale in folder.glob(".stitch-*"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed


def stitch_files(root: Path, pieces: Sequence[Piece], dest_key: str, progress: Progress | None = None) -> int:
    """Concatenate local files under `root` into `root/dest_key`; returns the bytes written."""
    dest = root / dest_key
    dest.parent.mkdir(parents=True, exist_ok=True)
    total = sum(p.size for p in pieces) or 1
    done = 0
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".stitch-")
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with open(root / piece.key, "rb") as src:
                    while data := src.read(READ_PIECE):
                        out.write(data)
                        done += len(data)
                if progress:
                    progress(done / total)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return done


class _PartWriter:
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


@dataclass(frozen=True)
class S3StitchResult:
    size: int
    copied_parts: int
    buffered_parts: int


def _read_range(client: Any, bucket: str, key: str, start: int, end: int) -> Any:
    return client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]


def abort_incomplete(client: Any, bucket: str, dest_key: str) -> int:
    """Abort multipart uploads to `dest_key` left behind by a crashed run; returns how many."""
    aborted = 0
    response = client.list_multipart_uploads(Bucket=bucket, Prefix=dest_key)
    for upload in response.get("Uploads", []):
        if upload["Key"] == dest_key:
            client.abort_multipart_upload(Bucket=bucket, Key=dest_key, UploadId=upload["UploadId"])
            aborted += 1
    return aborted


def stitch_s3(
    client: Any, bucket: str, pieces: Sequence[Piece], dest_key: str, progress: Progress | None = None
) -> S3StitchResult:
    """Concatenate S3 objects into `dest_key` with one multipart upload."""
    abort_incomplete(client, bucket, dest_key)
    total_size = sum(p.size for p in pieces)
    if total_size < PART_MIN:
        # One small object: a plain copy-through is simpler than a one-part multipart upload.
        data = bytearray()
        for piece in pieces:
            data.extend(client.get_object(Bucket=bucket, Key=piece.key)["Body"].read())
        client.put_object(Bucket=bucket, Key=dest_key, Body=bytes(data))
        return S3StitchResult(size=len(data), copied_parts=0, buffered_parts=1 if data else 0)

    upload_id = client.create_multipart_upload(Bucket=bucket, Key=dest_key)["UploadId"]
    writer = _PartWriter(client, bucket, dest_key, upload_id)
    done = 0
    try:
        for piece in pieces:
            start = 0
            if writer.buffer and piece.size >= PART_MIN:
                # Top the buffer up to a valid part from the head of this chunk, then copy the rest.
                need = PART_MIN - len(writer.buffer)
                if need > 0:
                    head = min(need, piece.size)
                    body = _read_range(client, bucket, piece.key, 0, head - 1)
                    writer.buffer.extend(body.read())
                    start = head
                writer.flush()
            remaining = piece.size - start
            if remaining >= PART_MIN and not writer.buffer:
                writer.copy(piece.key, start, piece.size - 1)
            elif remaining > 0:
                body = _read_range(client, bucket, piece.key, start, piece.size - 1)
                for data in body.iter_chunks(READ_PIECE):
                    writer.add_bytes(data)
            done += piece.size
            if progress:
                progress(done / (total_size or 1))
        writer.flush()
        client.complete_multipart_upload(
            Bucket=bucket, Key=dest_key, UploadId=upload_id, MultipartUpload={"Parts": writer.parts}
        )
    except BaseException:
        client.abort_multipart_upload(Bucket=bucket, Key=dest_key, UploadId=upload_id)
        raise
    return S3StitchResult(size=total_size, copied_parts=writer.copied_parts, buffered_parts=writer.buffered_parts)
