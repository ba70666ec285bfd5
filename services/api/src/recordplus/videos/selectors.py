"""Reads for videos. Every lookup goes through the caller, so another user's video is a 404."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from recordplus.accounts.auth import owner_of
from recordplus.core.errors import NotFound
from recordplus.videos.models import Chunk, Video


def video_list_for_user(auth: Any) -> QuerySet[Video]:
    """The caller's videos, newest first, each with its transcript in the same query."""
    owner = owner_of(auth)
    videos = Video.objects.filter(owner__isnull=True) if owner is None else Video.objects.filter(owner=owner)
    # The reverse one-to-one by name: the videos app does not import transcripts.
    return videos.select_related("transcript")


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
