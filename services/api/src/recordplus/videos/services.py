"""Every change to a Video and its chunks goes through this module.

Create, store a chunk, finalize, claim for assembly (the settle rule lives only here),
progress, stitched, ready, failed, delete, reconcile. Workers change video rows only through
these functions; the row is the source of truth and a message only says "look at video N".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone

from recordplus.accounts.auth import owner_of
from recordplus.core import jobs, messaging, metrics
from recordplus.core.errors import BadRequest, Conflict, PayloadTooLarge
from recordplus.core.storage import get_store, keys
from recordplus.videos.models import Chunk, Video
from recordplus.videos.records import ReadyMedia
from recordplus.videos.selectors import chunk_indexes, missing_indexes, video_get_for_user

logger = logging.getLogger(__name__)

TITLE_MAX = 255


@dataclass(frozen=True)
class ChunkStored:
    chunk: Chunk
    created: bool  # False when the same bytes were re-sent for an index already stored


class _LimitedReader:
    """Reads at most `limit` bytes, so an oversize body is noticed without storing all of it."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw = raw
        self.remaining = limit

    def read(self, n: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        n = self.remaining if n is None or n < 0 else min(n, self.remaining)
        data = self.raw.read(n)
        self.remaining -= len(data)
        return data


@dataclass(frozen=True)
class NotYet:
    """The settle window is still open; come back after `delay_seconds`."""

    delay_seconds: float


@dataclass(frozen=True)
class AssemblyClaim:
    """A video a worker may now assemble, and which attempt this is."""

    video: Video
    attempt: int


# --- the settle rule ------------------------------------------------------------------------
# After finalize, chunk requests that were already under way get FINALIZE_SETTLE_SECONDS to
# land; assembly starts only once that window has closed, and then no chunk is accepted.


def _settle_deadline(video: Video) -> datetime:
    return video.finalized_at + timedelta(seconds=settings.FINALIZE_SETTLE_SECONDS)


def _settle_wait(video: Video) -> float:
    """Seconds left in the settle window of a finalized video (0 once it has closed)."""
    if video.finalized_at is None or video.assembly_started_at is not None:
        return 0.0
    return max((_settle_deadline(video) - timezone.now()).total_seconds(), 0.0)


def _in_settle_window(video: Video) -> bool:
    return video.status == Video.Status.ASSEMBLING and _settle_wait(video) > 0


def _ensure_accepting(video: Video) -> None:
    if video.status == Video.Status.UPLOADING or _in_settle_window(video):
        return
    metrics.UPLOAD_REJECTED.labels("finalized").inc()
    raise Conflict(
        f"video {video.pk} is already finalized (status: {video.status}); chunks can no longer be added",
        {"video_id": video.pk, "status": video.status},
    )


def video_create(
    *,
    auth: Any,
    title: str,
    description: str = "",
    first_chunk: IO[bytes] | None = None,
    first_chunk_size: int | None = None,
    first_chunk_field: str = "video_file",
) -> Video:
    """Create a video in `uploading` for the caller, with its first chunk when one is given.

    A first chunk that is refused (empty, too large) takes the new video with it, so a failed
    request leaves nothing behind.
    """
    title = (title or "").strip()
    if not title:
        raise BadRequest("title is required", {"field": "title"})
    if len(title) > TITLE_MAX:
        raise BadRequest(f"title is {len(title)} characters; at most {TITLE_MAX} are allowed", {"field": "title"})
    video = Video.objects.create(owner=owner_of(auth), title=title, description=description or "")
    if first_chunk is not None:
        try:
            chunk_store(
                video=video, data=first_chunk, declared_size=first_chunk_size, chunk_index=0, field=first_chunk_field
            )
        except BaseException:
            get_store().delete_prefix(video.storage_prefix)
            video.delete()
            raise
    return video


def chunk_store(
    *,
    video: Video,
    data: IO[bytes],
    chunk_index: int | None,
    declared_size: int | None = None,
    field: str = "video_chunck",
) -> ChunkStored:
    """Store one chunk of `video`.

    Order is `chunk_index` when given. Without it the chunk is numbered by arrival and marked
    `indexed=False`: arrival order means nothing (the original extension fires all its pieces
    at once), so the assembler recovers the order from the container itself. Re-sending an index with the same bytes is a no-op;
    different bytes are a 409. The bytes are written before the row, and the row is written
    under a lock on the video that re-checks the video still accepts chunks, so a chunk is
    either part of the assembled video or refused — never silently dropped. `field` is the
    name the client sent the bytes under, for the errors about them.
    """
    _ensure_accepting(video)
    limit = settings.MAX_CHUNK_BYTES
    if declared_size is not None and declared_size > limit:
        metrics.UPLOAD_REJECTED.labels("too_large").inc()
        raise PayloadTooLarge(f"chunk is {declared_size} bytes; the limit is {limit}", {"max_chunk_bytes": limit})
    if chunk_index is not None and chunk_index < 0:
        raise BadRequest("chunk_index must be 0 or more", {"field": "chunk_index"})
    if chunk_index is not None and chunk_index >= settings.MAX_CHUNKS:
        raise BadRequest(
            f"chunk_index must be below {settings.MAX_CHUNKS} (MAX_CHUNKS)", {"field": "chunk_index"}
        )

    store = get_store()
    key = keys.new_chunk(video.public_id)
    written = store.write(key, _LimitedReader(data, limit + 1))
    try:
        if written.size == 0:
            metrics.UPLOAD_REJECTED.labels("empty").inc()
            raise BadRequest(f"chunk is empty ({field})", {"field": field})
        if written.size > limit:
            metrics.UPLOAD_REJECTED.labels("too_large").inc()
            raise PayloadTooLarge(f"chunk is larger than the limit of {limit} bytes", {"max_chunk_bytes": limit})
        result = _chunk_record(video_id=video.pk, key=key, size=written.size, sha256=written.sha256, index=chunk_index)
    except BaseException:
        store.delete(key)
        raise
    if not result.created:
        store.delete(key)
    else:
        metrics.UPLOAD_BYTES.inc(written.size)
        metrics.UPLOAD_CHUNKS.inc()
    return result


def _chunk_record(*, video_id: int, key: str, size: int, sha256: str, index: int | None) -> ChunkStored:
    for attempt in range(5):
        try:
            with transaction.atomic():
                video = Video.objects.select_for_update().get(pk=video_id)
                _ensure_accepting(video)
                top = Chunk.objects.filter(video=video).aggregate(top=Max("index"))["top"]
                next_index = 0 if top is None else top + 1
                if index is None:
                    index_to_use = next_index
                    if index_to_use >= settings.MAX_CHUNKS:
                        raise Conflict(
                            f"video {video_id} already has {settings.MAX_CHUNKS} chunks, the most one video may have",
                            {"max_chunks": settings.MAX_CHUNKS},
                        )
                else:
                    index_to_use = index
                    existing = Chunk.objects.filter(video=video, index=index).first()
                    if existing is not None:
                        if existing.checksum == sha256 and existing.size == size:
                            return ChunkStored(chunk=existing, created=False)
                        metrics.UPLOAD_REJECTED.labels("conflict").inc()
                        raise Conflict(
                            f"chunk {index} of video {video_id} was already received with different bytes",
                            {"chunk_index": index, "stored_size": existing.size, "sent_size": size},
                        )
                    if video.status != Video.Status.UPLOADING and index != next_index:
                        # After finalize, only chunks that extend the video without a gap may land.
                        raise Conflict(
                            f"video {video_id} is finalized; chunk {index} would leave a gap after {next_index - 1}",
                            {"chunk_index": index, "next_index": next_index},
                        )
                chunk = Chunk.objects.create(
                    video=video, index=index_to_use, indexed=index is not None, size=size, checksum=sha256, key=key
                )
                video.last_chunk_at = timezone.now()
                video.save(update_fields=["last_chunk_at", "updated_at"])
                return ChunkStored(chunk=chunk, created=True)
        except IntegrityError:
            # Two arrival-order chunks raced for the same next index: take the following one.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def video_finalize(*, video: Video) -> Video:
    """Close the upload and queue assembly. Idempotent: finalizing again changes nothing.

    Gaps are given FINALIZE_SETTLE_SECONDS to fill (chunks still in flight), then refused with
    409 naming the missing indexes; the video stays open so the client can send them.
    """
    if video.status in (Video.Status.ASSEMBLING, Video.Status.READY):
        return video
    if video.status == Video.Status.FAILED:
        raise Conflict(f"video {video.pk} failed: {video.error}", {"status": video.status, "error": video.error})

    deadline = time.monotonic() + settings.FINALIZE_SETTLE_SECONDS
    while True:
        indexes = chunk_indexes(video)
        gaps = missing_indexes(indexes)
        if indexes and not gaps:
            break
        if time.monotonic() >= deadline:
            metrics.UPLOAD_REJECTED.labels("gaps" if gaps else "no_chunks").inc()
            if not indexes:
                raise Conflict(f"video {video.pk} has no chunks; upload at least one before finalizing")
            raise Conflict(
                f"video {video.pk} is missing chunks {gaps}; upload them, then finalize again",
                {"missing": gaps, "received": indexes},
            )
        time.sleep(0.2)

    with transaction.atomic():
        locked = Video.objects.select_for_update().get(pk=video.pk)
        if locked.status != Video.Status.UPLOADING:
            return locked
        locked.status = Video.Status.ASSEMBLING
        locked.finalized_at = timezone.now()
        locked.progress = 0.0
        locked.save(update_fields=["status", "finalized_at", "progress", "updated_at"])
        delay = settings.FINALIZE_SETTLE_SECONDS
        transaction.on_commit(lambda: messaging.send_assemble(locked.pk, delay_seconds=delay))
    return locked


def video_finalize_by_id(*, video_id: int, auth: Any) -> Video:
    return video_finalize(video=video_get_for_user(video_id, auth))


def video_claim_for_assembly(*, video_id: int) -> AssemblyClaim | NotYet | None:
    """Take video `video_id` for assembly: the settle window must have closed; closes it for
    good (no chunk lands after this) and counts the attempt.

    None when there is nothing to do (gone, not `assembling`), or when the attempts ran out —
    each earlier one ended without a result, so the worker died on it — in which case the
    video is marked failed here.
    """
    with transaction.atomic():
        video = Video.objects.select_for_update().filter(pk=video_id).first()
        if video is None or video.status != Video.Status.ASSEMBLING:
            return None
        wait = _settle_wait(video)
        if wait > 0:
            return NotYet(delay_seconds=wait + 0.05)
        now = timezone.now()
        video.assembly_started_at = video.assembly_started_at or now
        video.assembly_attempts += 1
        video.save(update_fields=["assembly_started_at", "assembly_attempts", "updated_at"])
        given_up = jobs.give_up_at_claim(video.assembly_attempts, settings.ASSEMBLE_MAX_ATTEMPTS)
        if given_up:
            video_mark_failed(video_id=video.pk, reason=given_up)
            metrics.PIPELINE_FAILURES.labels("assemble", "gave_up").inc()
            return None
    return AssemblyClaim(video=video, attempt=video.assembly_attempts)


def video_set_progress(*, video_id: int, fraction: float) -> None:
    """Record how far the assembly is (0..1), for clients polling the video."""
    Video.objects.filter(pk=video_id, status=Video.Status.ASSEMBLING).update(
        progress=round(min(max(fraction, 0.0), 1.0), 3), updated_at=timezone.now()
    )


def video_mark_stitched(*, video_id: int, source_key: str, size: int) -> None:
    """The chunks are one object now: the original upload, downloadable even if processing fails."""
    Video.objects.filter(pk=video_id).update(source_key=source_key, size=size, updated_at=timezone.now())


def video_mark_ready(*, video_id: int, media: ReadyMedia) -> None:
    """The video plays: store its facts, drop the chunk rows (their objects are cleaned up by
    the caller once this has committed) and keep how many chunks and bytes were received, for
    the upload status. Call inside the caller's transaction when more must happen atomically
    with it (requesting the transcript)."""
    now = timezone.now()
    with transaction.atomic():
        received = Chunk.objects.filter(video_id=video_id).aggregate(chunks=Count("pk"), bytes=Sum("size"))
        # A second run (actors are idempotent) finds no rows left: keep the first run's counts.
        counts = (
            {"received_chunks": received["chunks"], "received_bytes": received["bytes"] or 0}
            if received["chunks"]
            else {}
        )
        Video.objects.filter(pk=video_id).update(
            **counts,
            status=Video.Status.READY,
            error="",
            progress=1.0,
            video_key=media.video_key,
            content_type=media.content_type,
            container=media.container,
            video_codec=media.video_codec,
            audio_codec=media.audio_codec,
            duration=media.duration,
            width=media.width,
            height=media.height,
            frame_rate=media.frame_rate,
            has_audio=media.has_audio,
            size=media.size,
            thumbnail_key=media.thumbnail_key,
            audio_key=media.audio_key,
            ready_at=now,
            updated_at=now,
        )
        Chunk.objects.filter(video_id=video_id).delete()


def video_mark_failed(*, video_id: int, reason: str) -> None:
    """The video cannot be made playable; `reason` is what the owner reads."""
    Video.objects.filter(pk=video_id).update(status=Video.Status.FAILED, error=reason[:2000], updated_at=timezone.now())
    logger.warning("video %s failed: %s", video_id, reason)


def video_cleanup_after_ready(*, video: Video) -> None:
    """Remove chunk objects and what killed runs left behind; only once the video is ready, so
    no other run of it can still be writing (a duplicate that is would retry and stop)."""
    store = get_store()
    store.delete_prefix(keys.chunks_prefix(video.public_id))
    store.remove_temporaries(video.storage_prefix)


def video_delete(*, video: Video) -> None:
    """Delete the video, its chunks, transcript and every stored object under its prefix.

    Refused (409) while a worker is writing the video's objects: during assembly, and while a
    transcription holds its lease. Deleting then would leave objects that no row points to.
    """
    with transaction.atomic():
        locked = Video.objects.select_for_update().get(pk=video.pk)
        if locked.status == Video.Status.ASSEMBLING:
            raise Conflict(
                f"video {video.pk} is being assembled; delete it once it is ready or failed",
                {"status": locked.status},
            )
        # Through the reverse relation by name: the videos app does not import transcripts.
        transcribing = Video.objects.filter(
            pk=locked.pk, transcript__status="running", transcript__lease_expires_at__gt=timezone.now()
        ).exists()
        if transcribing:
            raise Conflict(f"video {video.pk} is being transcribed; delete it once that has finished")
        prefix = locked.storage_prefix
        locked.delete()
        transaction.on_commit(lambda: get_store().delete_prefix(prefix))
    logger.info("video %s deleted", video.pk)


def video_rename(*, video: Video, title: str) -> Video:
    """Give the video a new title (not blank, at most 255 characters, like at creation)."""
    title = title.strip()
    if not title:
        raise BadRequest("the title must not be blank", {"field": "title"})
    if len(title) > 255:
        raise BadRequest(f"the title is {len(title)} characters; at most 255", {"field": "title"})
    Video.objects.filter(pk=video.pk).update(title=title, updated_at=timezone.now())
    video.title = title
    return video


def video_reconcile(*, stale_seconds: float | None) -> list[int]:
    """Re-enqueue assembly for videos the database says are unfinished.

    `stale_seconds=None` (start-up of the embedded mode, whose broker forgot everything)
    re-enqueues every `assembling` video; otherwise only those untouched for that long (a lost
    message in a cluster). Actors are idempotent, so a duplicate message is harmless.
    """
    videos = Video.objects.filter(status=Video.Status.ASSEMBLING)
    if stale_seconds is not None:
        videos = videos.filter(updated_at__lt=timezone.now() - timedelta(seconds=stale_seconds))
    ids = list(videos.values_list("pk", flat=True))
    # Touch them so the next pass waits another period instead of piling up duplicates.
    Video.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    for video_id in ids:
        messaging.send_assemble(video_id)
    if ids:
        logger.info("reconciler re-enqueued assembly of videos %s", ids)
    return ids
