"""Object storage behind one small interface: the local filesystem (embedded) or S3 through
django-storages/boto3 (cluster). Keys are relative paths such as `videos/<public_id>/video.webm`."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.storage import default_storage

COPY_BUFFER = 1024 * 1024


@dataclass(frozen=True)
class Written:
    size: int
    sha256: str


def is_s3() -> bool:
    return settings.STORAGE_BACKEND == "s3"


def storage() -> Any:
    return default_storage


def s3_client() -> Any:
    """The boto3 client django-storages built from our settings (cluster mode only)."""
    return default_storage.connection.meta.client


def bucket() -> str:
    return settings.S3_BUCKET


def local_path(key: str) -> Path:
    return Path(settings.MEDIA_ROOT) / key


class _HashingReader:
    """Wraps a file object, hashing and counting what is read from it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.size += len(data)
        self.digest.update(data)
        return data


def write(key: str, fileobj: IO[bytes], *, content_type: str = "application/octet-stream") -> Written:
    """Store the stream under `key`, replacing any object there; atomic on the filesystem."""
    reader = _HashingReader(fileobj)
    if is_s3():
        s3_client().upload_fileobj(reader, bucket(), key, ExtraArgs={"ContentType": content_type})
    else:
        path = local_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(COPY_BUFFER):
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return Written(size=reader.size, sha256=reader.digest.hexdigest())


def write_file(key: str, path: Path, *, content_type: str = "application/octet-stream") -> Written:
    with open(path, "rb") as fileobj:
        return write(key, fileobj, content_type=content_type)


def exists(key: str) -> bool:
    if is_s3():
        from botocore.exceptions import ClientError

        try:
            s3_client().head_object(Bucket=bucket(), Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True
    return local_path(key).is_file()


def size(key: str) -> int:
    if is_s3():
        return int(s3_client().head_object(Bucket=bucket(), Key=key)["ContentLength"])
    return local_path(key).stat().st_size


def delete(key: str) -> None:
    if is_s3():
        s3_client().delete_object(Bucket=bucket(), Key=key)
    else:
        local_path(key).unlink(missing_ok=True)


def delete_prefix(prefix: str) -> int:
    """Delete every object whose key starts with `prefix`; returns how many were deleted."""
    deleted = 0
    if is_s3():
        client = s3_client()
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket(), Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket(), Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted
    root = local_path(prefix)
    base = root if root.is_dir() else root.parent
    for path in sorted(base.rglob("*")) if base.exists() else []:
        if path.is_file() and str(path.relative_to(settings.MEDIA_ROOT)).startswith(prefix):
            path.unlink()
            deleted += 1
    return deleted


def iter_range(key: str, start: int, end: int) -> Iterator[bytes]:
    """Yield bytes start..end (inclusive) of the object, in bounded pieces."""
    if end < start:
        return
    if is_s3():
        body = s3_client().get_object(Bucket=bucket(), Key=key, Range=f"bytes={start}-{end}")["Body"]
        try:
            yield from body.iter_chunks(COPY_BUFFER)
        finally:
            body.close()
        return
    remaining = end - start + 1
    with open(local_path(key), "rb") as fileobj:
        fileobj.seek(start)
        while remaining > 0:
            data = fileobj.read(min(COPY_BUFFER, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data


def download(key: str, dest: Path) -> int:
    """Copy the object to a local file; returns its size."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if is_s3():
        s3_client().download_file(bucket(), key, str(dest))
    else:
        with open(local_path(key), "rb") as src, open(dest, "wb") as out:
            while chunk := src.read(COPY_BUFFER):
                out.write(chunk)
    return dest.stat().st_size


def presigned_url(key: str, *, content_type: str | None = None, filename: str | None = None) -> str:
    """A short-lived GET URL for the object, signed for the public endpoint if one is set."""
    import boto3
    from botocore.config import Config

    params: dict[str, str] = {"Bucket": bucket(), "Key": key}
    if content_type:
        params["ResponseContentType"] = content_type
    if filename:
        params["ResponseContentDisposition"] = f'inline; filename="{filename}"'
    client = s3_client()
    if settings.S3_PUBLIC_ENDPOINT_URL:
        client = boto3.client(
            "s3",
            endpoint_url=settings.S3_PUBLIC_ENDPOINT_URL,
            region_name=settings.S3_REGION,
            aws_access_key_id=settings.S3_ACCESS_KEY_ID or None,
            aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY or None,
            config=Config(signature_version="s3v4", s3={"addressing_style": settings.S3_ADDRESSING_STYLE}),
        )
    return client.generate_presigned_url("get_object", Params=params, ExpiresIn=settings.S3_PRESIGN_SECONDS)


def ensure_bucket() -> None:
    """Create the bucket when S3_CREATE_BUCKET is on (dev clusters, tests); no-op otherwise."""
    if not is_s3() or not settings.S3_CREATE_BUCKET:
        return
    from botocore.exceptions import ClientError

    client = s3_client()
    try:
        client.head_bucket(Bucket=bucket())
    except ClientError:
        extra = {}
        if settings.S3_REGION and settings.S3_REGION != "us-east-1":
            extra["CreateBucketConfiguration"] = {"LocationConstraint": settings.S3_REGION}
        client.create_bucket(Bucket=bucket(), **extra)


def ping() -> None:
    """Raise if storage is unusable."""
    if is_s3():
        s3_client().head_bucket(Bucket=bucket())
        return
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    if not os.access(root, os.W_OK):
        raise OSError(f"{root} is not writable")
