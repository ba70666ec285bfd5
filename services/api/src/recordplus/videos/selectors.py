"""Reads for videos. Every lookup goes through the caller, so another user's video is a 404."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from recordplus.accounts.auth import owner_of
from recordplus.core.errors import BadRequest, NotFound
from recordplus.videos.models import Chunk, Video


def video_list_for_user(auth: Any) -> QuerySet[Video]:
    """The caller's videos, newest first, each with its transcript in the same query."""
    owner = owner_of(auth)
    videos = Video.objects.filter(owner__isnull=True) if owner is None else Video.objects.filter(owner=owner)
    # The reverse one-to-one by name: the videos app does not import transcripts.
    return videos.select_related("transcript")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})")


@dataclass(frozen=True)
class VideoPage:
    videos: list[Video]
    next_cursor: str | None


def _cursor_of(video: Video) -> str:
    """Where the next page starts: after this video in (created_at, id) order, newest first."""
    micros = (video.created_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{video.pk}"


def _after_cursor(cursor: str) -> Q:
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise BadRequest(
            f"cursor {cursor[:40]!r} is not one this API gave; pass the X-Next-Cursor of the previous page",
            {"field": "cursor"},
        )
    created_at = _EPOCH + timedelta(microseconds=int(match[1]))
    return Q(created_at__lt=created_at) | Q(created_at=created_at, pk__lt=int(match[2]))


def video_page_for_user(auth: Any, *, limit: int, cursor: str | None = None) -> VideoPage:
    """One page of the caller's videos, newest first: at most `limit` rows are read (one more to
    know whether a next page exists), so a list call costs the same with 10 or 100,000 videos.
    A keyset cursor, not an offset: videos created meanwhile neither repeat nor vanish."""
    videos = video_list_for_user(auth).order_by("-created_at", "-id")
    if cursor:
        videos = videos.filter(_after_cursor(cursor))
    rows = list(videos[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return VideoPage(videos=rows, next_cursor=_cursor_of(rows[-1]) if more and rows else None)


def video_by_id(video_id: int) -> Video | None:
    """A video by id whoever owns it (for workers, never for API callers)."""
    return Video.objects.filter(pk=video_id).first()


def video_get_for_user(video_id: int, auth: Any) -> Video:
    """The caller's video, or NotFound (also when it exists but belongs to someone else)."""
    if not 0 < video_id < 2**63:  # beyond any id a database can hold
        raise NotFound(f"video {video_id} not found", {"video_id": video_id})
    video = video_list_for_user(auth).filter(pk=video_id).first()
    if video is None:
        raise NotFound(f"video {video_id} not found", {"video_id": video_id})
    return video


def chunks_for_assembly(video: Video) -> list[Chunk]:
    """The video's chunks by index: the order to join them when every one was sent with an index
    (the assembler recovers the order of the others from the container)."""
    return list(Chunk.objects.filter(video=video).order_by("index"))


def chunk_indexes(video: Video) -> list[int]:
    return list(Chunk.objects.filter(video=video).order_by("index").values_list("index", flat=True))


def missing_indexes(indexes: list[int]) -> list[int]:
    """Indexes absent below the highest one received (assumes `indexes` is sorted)."""
    if not indexes:
        return []
    present = set(indexes)
    return [i for i in range(indexes[-1] + 1) if i not in present]


def upload_status(video: Video) -> dict[str, Any]:
    """What a client needs to resume an interrupted upload."""
    rows = list(Chunk.objects.filter(video=video).order_by("index").values_list("index", "size"))
    indexes = [index for index, _ in rows]
    received_bytes = sum(size for _, size in rows)
    if not rows and video.received_chunks:
        # Ready: the chunk rows are gone, their counts were kept on the video (contiguous by then).
        indexes = list(range(video.received_chunks))
        received_bytes = video.received_bytes or 0
    return {
        "video_id": video.pk,
        "status": video.status,
        "received": indexes,
        "chunks": len(indexes),
        "bytes": received_bytes,
        "missing": missing_indexes(indexes),
        "next_index": indexes[-1] + 1 if indexes else 0,
        "accepting_chunks": video.status == Video.Status.UPLOADING,
    }
