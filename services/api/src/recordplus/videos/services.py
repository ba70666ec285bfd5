"""Every change to a Video and its chunks goes through this module.

Create, store a chunk, finalize, claim for assembly (the settle rule lives only here),
progress, stitched, ready, failed, delete, reconcile. Workers change video rows only through
these functions; the row is the source of truth and a message only says "look at video N".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from recordplus.accounts.auth import owner_of
from recordplus.core import jobs, live_trigger, messaging, metrics
from recordplus.core.errors import BadRequest, Conflict, Gone, NotFound, PayloadTooLarge, VideoDeleted
from recordplus.core.storage import get_store, keys
from recordplus.videos import quotas
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
    """Seconds left in the settle window of a finalized video (0 once it has closed).

    A video finalized with a declared total has none: finalize saw every index below it."""
    if video.finalized_at is None or video.assembly_started_at is not None or video.declared_chunks is not None:
        return 0.0
    return max((_settle_deadline(video) - timezone.now()).total_seconds(), 0.0)


def _in_settle_window(video: Video) -> bool:
    return video.status == Video.Status.ASSEMBLING and _settle_wait(video) > 0


def _expired(video: Video) -> Gone:
    return Gone(
        f"video {video.pk} expired: its upload was idle for more than {settings.UPLOAD_EXPIRY_SECONDS} s "
        "(UPLOAD_EXPIRY_SECONDS) and its chunks were removed; start a new upload",
        {"video_id": video.pk, "status": video.status},
    )


def _ensure_accepting(video: Video) -> None:
    if video.status == Video.Status.UPLOADING or _in_settle_window(video):
        return
    if video.status == Video.Status.EXPIRED:
        metrics.UPLOAD_REJECTED.labels("expired").inc()
        raise _expired(video)
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
    owner = owner_of(auth)
    quotas.check_open_videos(owner_id=None if owner is None else owner.pk)
    video = Video.objects.create(owner=owner, title=title, description=description or "")
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
    last: bool = False,
) -> ChunkStored:
    """Store one chunk of `video`.

    Order is `chunk_index` when given. Without it the chunk is numbered by arrival and marked
    `indexed=False`: arrival order means nothing (the original extension fires all its pieces
    at once), so the assembler recovers the order from the container itself. Re-sending an index with the same bytes is a no-op;
    different bytes are a 409. The bytes are written before the row, and the row is written
    under a lock on the video that re-checks the video still accepts chunks, so a chunk is
    either part of the assembled video or refused — never silently dropped. `field` is the
    name the client sent the bytes under, for the errors about them. `last=True` declares this
    chunk the final one (the total is `chunk_index + 1`; see `video_finalize`).
    """
    _ensure_accepting(video)
    if last and chunk_index is None:
        raise BadRequest("last=true needs the chunk's chunk_index", {"field": "last"})
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
    try:
        written = store.write(key, _LimitedReader(data, limit + 1))
    except FileNotFoundError:
        # The owner deleted the video while this chunk was being written (the delete removed its
        # folder, the temporary file with it): the chunk has nowhere to go, and that is a 404.
        if not Video.objects.filter(pk=video.pk).exists():
            raise _gone(video.pk) from None
        raise
    try:
        if written.size == 0:
            metrics.UPLOAD_REJECTED.labels("empty").inc()
            raise BadRequest(f"chunk is empty ({field})", {"field": field})
        if written.size > limit:
            metrics.UPLOAD_REJECTED.labels("too_large").inc()
            raise PayloadTooLarge(f"chunk is larger than the limit of {limit} bytes", {"max_chunk_bytes": limit})
        quotas.check_bytes(owner_id=video.owner_id, adding=written.size)
        result = _chunk_record(
            video_id=video.pk, key=key, size=written.size, sha256=written.sha256, index=chunk_index, last=last
        )
    except BaseException:
        store.delete(key)
        raise
    if not result.created:
        store.delete(key)
    else:
        metrics.UPLOAD_BYTES.inc(written.size)
        metrics.UPLOAD_CHUNKS.inc()
        if chunk_index is not None and settings.LIVE_TRANSCRIPTION:  # live transcription (issue 11)
            transaction.on_commit(lambda: live_trigger.chunk_received(video.pk, last=last))
    return result


def _chunk_record(
    *, video_id: int, key: str, size: int, sha256: str, index: int | None, last: bool = False
) -> ChunkStored:
    for attempt in range(5):
        try:
            with transaction.atomic():
                video = Video.objects.select_for_update().filter(pk=video_id).first()
                if video is None:  # deleted while the bytes were arriving
                    raise NotFound(f"video {video_id} not found (it was deleted)", {"video_id": video_id})
                _ensure_accepting(video)
                _check_declared(video, index, last=last)
                # The highest index so far matters only for arrival-order chunks and after
                # finalize (gap check): an indexed chunk of an open upload skips that query.
                next_index = 0
                if index is None or video.status != Video.Status.UPLOADING:
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
                if last:
                    video.declared_chunks = index_to_use + 1
                video.save(update_fields=["last_chunk_at", "declared_chunks", "updated_at"])
                return ChunkStored(chunk=chunk, created=True)
        except IntegrityError:
            # Two arrival-order chunks raced for the same next index: take the following one.
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _check_declared(video: Video, index: int | None, *, last: bool) -> None:
    """A chunk must fit the total the client declared (`last` on a chunk, or chunk_count)."""
    declared = video.declared_chunks
    if declared is not None and index is not None and index >= declared:
        metrics.UPLOAD_REJECTED.labels("beyond_declared").inc()
        raise Conflict(
            f"chunk {index} is beyond the declared total of {declared} chunks (indexes 0..{declared - 1})",
            {"chunk_index": index, "chunk_count": declared},
        )
    if last and index is not None:
        beyond = list(Chunk.objects.filter(video=video, index__gt=index).values_list("index", flat=True)[:20])
        if beyond:
            raise Conflict(
                f"chunk {index} cannot be the last one: chunks {beyond} were already received",
                {"chunk_index": index, "received_beyond": beyond},
            )


def _declared_total(video: Video, chunk_count: int | None) -> int | None:
    """The total this finalize goes by: chunk_count, or what `last` declared (they must agree)."""
    if chunk_count is None:
        return video.declared_chunks
    if not 1 <= chunk_count <= settings.MAX_CHUNKS:
        raise BadRequest(f"chunk_count must be between 1 and {settings.MAX_CHUNKS} (MAX_CHUNKS)", {"field": "chunk_count"})
    if video.declared_chunks is not None and video.declared_chunks != chunk_count:
        raise Conflict(
            f"chunk_count {chunk_count} contradicts the last chunk declared earlier ({video.declared_chunks} chunks)",
            {"chunk_count": chunk_count, "declared": video.declared_chunks},
        )
    return chunk_count


def _declared_gaps(indexes: list[int], total: int) -> tuple[list[int], list[int]]:
    """(missing, extra) indexes against a declared total."""
    present = set(indexes)
    return [i for i in range(total) if i not in present], sorted(i for i in present if i >= total)


def video_finalize(*, video: Video, chunk_count: int | None = None) -> Video:
    """Close the upload and queue assembly. Idempotent: finalizing again changes nothing.

    Gaps are given FINALIZE_SETTLE_SECONDS to fill (chunks still in flight), then refused with
    409 naming the missing indexes; the video stays open so the client can send them.

    With a declared total (`chunk_count`, or `last=true` on a chunk) the same rule applies to
    the indexes 0..total-1 (chunks beyond it are a 409 at once), and once all are there the
    assembly starts at once: no settle window, no chunk accepted afterwards.
    """
    if video.status in (Video.Status.ASSEMBLING, Video.Status.READY):
        return video
    if video.status == Video.Status.FAILED:
        raise Conflict(f"video {video.pk} failed: {video.error}", {"status": video.status, "error": video.error})
    if video.status == Video.Status.EXPIRED:
        raise _expired(video)
    total = _declared_total(video, chunk_count)

    deadline = time.monotonic() + settings.FINALIZE_SETTLE_SECONDS
    while True:
        indexes = chunk_indexes(video)
        if total is None:
            gaps = missing_indexes(indexes)
        else:
            gaps, extra = _declared_gaps(indexes, total)
            if extra:
                metrics.UPLOAD_REJECTED.labels("beyond_declared").inc()
                raise Conflict(
                    f"video {video.pk} has chunks {extra[:20]} beyond the declared total of {total}",
                    {"chunk_count": total, "extra": extra[:100]},
                )
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
        locked = Video.objects.select_for_update().filter(pk=video.pk).first()
        if locked is None:  # deleted meanwhile
            raise NotFound(f"video {video.pk} not found (it was deleted)", {"video_id": video.pk})
        if locked.status != Video.Status.UPLOADING:
            return locked
        if total is not None:
            # Re-checked under the lock: no chunk can land in between any more.
            gaps, extra = _declared_gaps(chunk_indexes(locked), total)
            if gaps or extra:
                raise Conflict(
                    f"video {video.pk} changed while finalizing: missing {gaps[:20]}, beyond the total {extra[:20]}",
                    {"missing": gaps[:100], "extra": extra[:100], "chunk_count": total},
                )
        locked.status = Video.Status.ASSEMBLING
        locked.finalized_at = timezone.now()
        locked.progress = 0.0
        locked.declared_chunks = total
        locked.save(update_fields=["status", "finalized_at", "progress", "declared_chunks", "updated_at"])
        delay = settings.FINALIZE_SETTLE_SECONDS if total is None else None
        transaction.on_commit(lambda: messaging.send_assemble(locked.pk, delay_seconds=delay))
        if total is not None and settings.LIVE_TRANSCRIPTION:
            # Every chunk is in: the live decoder reads the tail now, not when its throttle says.
            transaction.on_commit(lambda: live_trigger.upload_closed(locked.pk))
    return locked


def video_finalize_by_id(*, video_id: int, auth: Any, chunk_count: int | None = None) -> Video:
    return video_finalize(video=video_get_for_user(video_id, auth), chunk_count=chunk_count)


# --- fairness ---------------------------------------------------------------------------
# One user must not occupy every worker: at most MAX_CONCURRENT_JOBS_PER_USER of a user's
# assemblies run at once, and a user's next video waits while another user, served less
# recently, has a video waiting (round robin between users). Fairness never holds a video back
# longer than FAIR_MAX_WAIT_SECONDS after its finalize (a waiting video whose message was lost
# must not block the others until the reconciler finds it).
FAIR_MAX_WAIT_SECONDS = 300
BUSY_DELAY_SECONDS = 5.0
TURN_DELAY_SECONDS = 1.0


def _running_for_owner(video: Video, now: datetime) -> int:
    """The owner's other assemblies that hold a live lease."""
    return (
        Video.objects.filter(quotas.owned_by(video.owner_id), status=Video.Status.ASSEMBLING,
                             assembly_lease_expires_at__gt=now)
        .exclude(pk=video.pk)
        .count()
    )  # fmt: skip


def _last_claim(owner_id: int | None) -> datetime | None:
    return Video.objects.filter(quotas.owned_by(owner_id)).aggregate(at=Max("assembly_started_at"))["at"]


def _another_users_turn(video: Video, now: datetime) -> bool:
    """Whether a video of another user, served less recently than this one's owner, is waiting."""
    if video.assembly_started_at is not None:  # a retry of this video keeps its turn
        return False
    mine = _last_claim(video.owner_id)
    if mine is None:
        return False
    settled = now - timedelta(seconds=settings.FINALIZE_SETTLE_SECONDS)
    waiting = (
        Video.objects.filter(status=Video.Status.ASSEMBLING, assembly_started_at__isnull=True)
        .filter(Q(finalized_at__lte=settled) | Q(declared_chunks__isnull=False))
        .exclude(quotas.owned_by(video.owner_id))
        .values_list("owner_id", flat=True)
        .distinct()[:50]
    )
    for owner_id in set(waiting):
        theirs = _last_claim(owner_id)
        if theirs is None or theirs < mine:
            return True
    return False


def _fair_wait(video: Video, now: datetime) -> float:
    """Seconds to defer this claim so other users get their turn (0: go ahead)."""
    limit = settings.MAX_CONCURRENT_JOBS_PER_USER
    if limit <= 0:
        return 0.0
    if video.finalized_at is not None and (now - video.finalized_at).total_seconds() > FAIR_MAX_WAIT_SECONDS:
        return 0.0
    if _running_for_owner(video, now) >= limit:
        return BUSY_DELAY_SECONDS
    if _another_users_turn(video, now):
        return TURN_DELAY_SECONDS
    return 0.0


def video_claim_for_assembly(*, video_id: int) -> AssemblyClaim | NotYet | None:
    """Take video `video_id` for assembly: the settle window must have closed; closes it for
    good (no chunk lands after this), counts the attempt and takes the lease.

    NotYet while the settle window is open, while another worker holds the lease (a duplicate
    message, e.g. from the reconciler: it comes back when the lease would have run out, so a
    dead worker's job is taken over then), or while fairness gives other users their turn.
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
        if video.assembly_lease_expires_at is not None and video.assembly_lease_expires_at > now:
            return NotYet(delay_seconds=(video.assembly_lease_expires_at - now).total_seconds() + 0.5)
        fair = _fair_wait(video, now)
        if fair > 0:
            return NotYet(delay_seconds=fair)
        video.assembly_started_at = video.assembly_started_at or now
        video.assembly_attempts += 1
        video.assembly_lease_expires_at = now + timedelta(seconds=settings.ASSEMBLE_LEASE_SECONDS)
        video.save(update_fields=["assembly_started_at", "assembly_attempts", "assembly_lease_expires_at", "updated_at"])
        given_up = jobs.give_up_at_claim(video.assembly_attempts, settings.ASSEMBLE_MAX_ATTEMPTS)
        if given_up:
            video_mark_failed(video_id=video.pk, reason=given_up)
            metrics.PIPELINE_FAILURES.labels("assemble", "gave_up").inc()
            return None
    return AssemblyClaim(video=video, attempt=video.assembly_attempts)


def video_renew_assembly_lease(*, video_id: int, attempt: int) -> bool:
    """Extend the lease of the run that claimed attempt `attempt`; False when that run no
    longer holds it (the video was deleted, finished, or taken over)."""
    renewed = Video.objects.filter(pk=video_id, status=Video.Status.ASSEMBLING, assembly_attempts=attempt).update(
        assembly_lease_expires_at=timezone.now() + timedelta(seconds=settings.ASSEMBLE_LEASE_SECONDS)
    )
    return renewed > 0


def _remove_objects(public_id: str) -> None:
    store = get_store()
    store.delete_prefix(keys.video_prefix(public_id))
    store.remove_temporaries(keys.video_prefix(public_id))


@contextmanager
def video_assembly_run(claim: AssemblyClaim) -> Iterator[None]:
    """Around one claimed assembly: keep its lease alive while the worker lives, and when the
    owner deleted the video meanwhile, remove whatever the run stored after the delete's own
    clean-up (so no object outlives its row)."""
    video = claim.video
    every = settings.ASSEMBLE_LEASE_SECONDS / 3
    try:
        with jobs.heartbeat(lambda: video_renew_assembly_lease(video_id=video.pk, attempt=claim.attempt), every=every):
            yield
    finally:
        if not Video.objects.filter(pk=video.pk).exists():
            _remove_objects(video.public_id)
            logger.info("video %s was deleted during its assembly; its objects were removed", video.pk)


def _gone(video_id: int) -> VideoDeleted:
    return VideoDeleted(f"video {video_id} was deleted by its owner during processing", {"video_id": video_id})


def video_set_progress(*, video_id: int, fraction: float) -> None:
    """Record how far the assembly is (0..1), for clients polling the video; raises
    VideoDeleted when the owner deleted it meanwhile, which stops the run."""
    updated = Video.objects.filter(pk=video_id, status=Video.Status.ASSEMBLING).update(
        progress=round(min(max(fraction, 0.0), 1.0), 3), updated_at=timezone.now()
    )
    if not updated and not Video.objects.filter(pk=video_id).exists():
        raise _gone(video_id)


def video_mark_stitched(*, video_id: int, source_key: str, size: int) -> None:
    """The chunks are one object now: the original upload, downloadable even if processing fails."""
    if not Video.objects.filter(pk=video_id).update(source_key=source_key, size=size, updated_at=timezone.now()):
        raise _gone(video_id)


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
        updated = Video.objects.filter(pk=video_id).update(
            **counts,
            assembly_lease_expires_at=None,
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
        if not updated:
            raise _gone(video_id)
        Chunk.objects.filter(video_id=video_id).delete()


def video_mark_failed(*, video_id: int, reason: str) -> None:
    """The video cannot be made playable; `reason` is what the owner reads."""
    Video.objects.filter(pk=video_id).update(
        status=Video.Status.FAILED, error=reason[:2000], assembly_lease_expires_at=None, updated_at=timezone.now()
    )
    logger.warning("video %s failed: %s", video_id, reason)


def video_cleanup_after_ready(*, video: Video) -> None:
    """Remove chunk objects and what killed runs left behind; only once the video is ready, so
    no other run of it can still be writing (a duplicate that is would retry and stop)."""
    store = get_store()
    store.delete_prefix(keys.chunks_prefix(video.public_id))
    store.remove_temporaries(video.storage_prefix)


def video_delete(*, video: Video) -> None:
    """Delete the video, its chunks, transcript and every stored object under its prefix.

    Allowed at any stage of upload and assembly: a running assembly notices at its next step
    that the row is gone (VideoDeleted), stops, and removes what it stored since
    (`video_assembly_run`). Refused (409) while a transcription holds its lease.
    """
    with transaction.atomic():
        locked = Video.objects.select_for_update().filter(pk=video.pk).first()
        if locked is None:  # a concurrent delete won
            raise NotFound(f"video {video.pk} not found", {"video_id": video.pk})
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
    now = timezone.now()
    if stale_seconds is None:
        # This process just started and no other worker exists: no lease is held any more.
        videos.update(assembly_lease_expires_at=None)
    else:
        videos = videos.filter(updated_at__lt=now - timedelta(seconds=stale_seconds)).exclude(
            assembly_lease_expires_at__gt=now  # a live worker holds it: not lost
        )
    ids = list(videos.values_list("pk", flat=True))
    # Touch them so the next pass waits another period instead of piling up duplicates.
    Video.objects.filter(pk__in=ids).update(updated_at=timezone.now())
    for video_id in ids:
        messaging.send_assemble(video_id)
    if ids:
        logger.info("reconciler re-enqueued assembly of videos %s", ids)
    return ids


def video_expire_idle(*, now: datetime | None = None) -> list[int]:
    """Expire unfinished uploads idle longer than UPLOAD_EXPIRY_SECONDS (0: never): status
    `expired`, chunk rows dropped, every stored object removed; returns their ids. Run by the
    reconciler; further chunks and finalize of such a video answer 410."""
    expiry = settings.UPLOAD_EXPIRY_SECONDS
    if expiry <= 0:
        return []
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=expiry)
    idle = (
        Video.objects.filter(status=Video.Status.UPLOADING)
        .annotate(active_at=Coalesce("last_chunk_at", "created_at"))
        .filter(active_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    expired = []
    for video_id in list(idle[:1000]):
        with transaction.atomic():
            video = Video.objects.select_for_update().filter(pk=video_id, status=Video.Status.UPLOADING).first()
            if video is None or (video.last_chunk_at or video.created_at) >= cutoff:
                continue  # finalized, deleted or touched meanwhile
            Chunk.objects.filter(video=video).delete()
            video.status = Video.Status.EXPIRED
            video.error = f"the upload was idle for more than {expiry} s (UPLOAD_EXPIRY_SECONDS); its chunks were removed"
            video.save(update_fields=["status", "error", "updated_at"])
            public_id = video.public_id
            transaction.on_commit(lambda public_id=public_id: _remove_objects(public_id))
        expired.append(video_id)
    if expired:
        logger.info("expired idle uploads %s", expired)
    return expired
