"""Per-user quotas on what is stored: open (unfinished) videos and stored bytes.

QUOTA_OPEN_VIDEOS caps the videos still `uploading` or `assembling`; QUOTA_BYTES caps the bytes
a user keeps (chunks received, plus the size of finished videos). 0 turns a quota off.
Anonymous callers (where ALLOW_ANONYMOUS allows them) share one pool, like they share one
library. Over a quota the answer is 429 with Retry-After. Only `videos.services` calls these.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q, Sum

from recordplus.core.errors import TooManyRequests
from recordplus.videos.models import Chunk, Video

OPEN = (Video.Status.UPLOADING, Video.Status.ASSEMBLING)
# Come back when an open upload has had time to finish (or has been deleted).
OPEN_RETRY_SECONDS = 60
BYTES_RETRY_SECONDS = 3600


def owned_by(owner_id: int | None, field: str = "owner") -> Q:
    """The filter for one owner's videos; None is the anonymous pool."""
    return Q(**{f"{field}__isnull": True}) if owner_id is None else Q(**{f"{field}_id": owner_id})


def check_open_videos(*, owner_id: int | None) -> None:
    """Raise TooManyRequests when the owner already has QUOTA_OPEN_VIDEOS unfinished videos."""
    limit = settings.QUOTA_OPEN_VIDEOS
    if limit <= 0:
        return
    open_count = Video.objects.filter(owned_by(owner_id), status__in=OPEN).count()
    if open_count >= limit:
        raise TooManyRequests(
            f"you have {open_count} unfinished uploads, the most allowed (QUOTA_OPEN_VIDEOS={limit}); "
            "finalize or delete some first",
            {"quota": "open_videos", "limit": limit, "used": open_count},
            retry_after=OPEN_RETRY_SECONDS,
        )


def stored_bytes(*, owner_id: int | None) -> int:
    """Bytes the owner keeps: received chunks, plus the size of videos past assembly."""
    chunks = Chunk.objects.filter(owned_by(owner_id, "video__owner")).aggregate(total=Sum("size"))["total"] or 0
    finished = (
        Video.objects.filter(owned_by(owner_id))
        .exclude(status__in=OPEN)
        .aggregate(total=Sum("size"))["total"]
        or 0
    )
    return int(chunks) + int(finished)


def check_bytes(*, owner_id: int | None, adding: int) -> None:
    """Raise TooManyRequests when storing `adding` more bytes would take the owner past QUOTA_BYTES."""
    limit = settings.QUOTA_BYTES
    if limit <= 0:
        return
    used = stored_bytes(owner_id=owner_id)
    if used + adding > limit:
        raise TooManyRequests(
            f"your recordings take {used} bytes, more than the {limit} allowed (QUOTA_BYTES); delete some first",
            {"quota": "bytes", "limit": limit, "used": used, "sent": adding},
            retry_after=BYTES_RETRY_SECONDS,
        )
