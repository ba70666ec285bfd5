"""Object storage: one `ObjectStore`, chosen once from settings.

`get_store()` is the only place in the product that looks at STORAGE_BACKEND: the filesystem
under MEDIA_ROOT (embedded) or an S3 bucket through boto3 (cluster). Everything else uses the
interface in `base` and the keys in `keys`. At import time this module imports neither Django
nor Dramatiq (`get_store()` reads Django's settings when first called).
"""

from __future__ import annotations

import functools

from recordplus.core.storage import keys
from recordplus.core.storage.base import ConcatResult, ObjectStore, Piece, Written

__all__ = ["ConcatResult", "ObjectStore", "Piece", "Written", "get_store", "keys"]


def _s3_client(endpoint_url: str | None):  # noqa: ANN202 - a boto3 client
    import boto3
    from botocore.config import Config
    from django.conf import settings

    style = settings.S3_ADDRESSING_STYLE
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=settings.S3_REGION,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID or None,
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY or None,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": style} if style != "auto" else {},
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


@functools.cache
def get_store() -> ObjectStore:
    """This process's store, built from settings on first use."""
    from pathlib import Path

    from django.conf import settings

    if settings.STORAGE_BACKEND == "s3":
        from recordplus.core.storage.s3 import S3Store

        client = _s3_client(settings.S3_ENDPOINT_URL)
        public = _s3_client(settings.S3_PUBLIC_ENDPOINT_URL) if settings.S3_PUBLIC_ENDPOINT_URL else client
        return S3Store(
            client,
            settings.S3_BUCKET,
            public_client=public,
            presign_seconds=settings.S3_PRESIGN_SECONDS,
            create_bucket=settings.S3_CREATE_BUCKET,
            region=settings.S3_REGION,
        )
    from recordplus.core.storage.filesystem import FileStore

    return FileStore(Path(settings.MEDIA_ROOT))
