"""Assemble one video: stitch its chunks, make it playable, mark it ready, request a transcript.

Idempotent: run twice, or again after a crash half-way, it converges to the same objects.
The database is the source of truth; the message only says which video to look at.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recordplus.assembler import media, stitch
from recordplus.core import metrics, storage
from recordplus.transcripts.services import transcript_request
from recordplus.videos.models import Chunk, Video
from recordplus.videos.selectors import missing_indexes
from recordplus.videos.services import settle_deadline

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotYet:
    """The settle window is still open; come back after `delay_seconds`."""

    delay_seconds: float


def _set_progress(video_id: int, value: float) -> None:
    Video.objects.filter(pk=video_id).update(progress=round(min(max(value, 0.0), 1.0), 3), updated_at=timezone.now())


def _fail(video_id: int, reason: str, *, code: str) -> None:
    metrics.PIPELINE_FAILURES.labels("assemble", code).inc()
    Video.objects.filter(pk=video_id).update(status=Video.Status.FAILED, error=reason, updated_at=timezone.now())
    logger.warning("video %s failed: %s", video_id, reason)


def _claim(video_id: int) -> Video | NotYet | None:
    """Lock the video, close its settle window and return it; None when there is nothing to do."""
    with transaction.atomic():
        video = Video.objects.select_for_update().filter(pk=video_id).first()
        if video is None or video.status != Video.Status.ASSEMBLING:
            return None
        if video.assembly_started_at is None:
            wait = (settle_deadline(video) - timezone.now()).total_seconds()
            if wait > 0:
                return NotYet(delay_seconds=wait + 0.05)
            video.assembly_started_at = timezone.now()
            video.save(update_fields=["assembly_started_at", "updated_at"])
        return video


def _cleanup_chunks(video: Video) -> None:
    """Chunks and, on disk, temporaries of killed runs: called once the video is ready, so no
    other run of this video can still be writing (a duplicate that is would retry and stop)."""
    storage.delete_prefix(f"{video.storage_prefix}chunks/")
    if not storage.is_s3():
        stitch.remove_stale_temporaries(storage.local_path(video.storage_prefix))


def assemble(video_id: int) -> NotYet | None:
    """Run the assembly of video `video_id`; returns NotYet if it must be retried later."""
    claimed = _claim(video_id)
    if claimed is None:
        video = Video.objects.filter(pk=video_id).first()
        if video is not None and video.status == Video.Status.READY:
            _cleanup_chunks(video)  # a crash after `ready` may have left chunk objects behind
        return None
    if isinstance(claimed, NotYet):
        return claimed
    video = claimed
    started = time.monotonic()
    metrics.JOBS_STARTED.labels("assemble").inc()

    chunks = list(Chunk.objects.filter(video=video).order_by("index"))
    gaps = missing_indexes([c.index for c in chunks])
    if not chunks or gaps:
        _fail(video.pk, f"cannot assemble: chunks missing {gaps or 'all'}", code="missing_chunks")
        metrics.JOBS_FINISHED.labels("assemble", "failed").inc()
        return None

    source_key = f"{video.storage_prefix}source.bin"
    pieces = [stitch.Piece(key=c.key, size=c.size) for c in chunks]
    report = lambda fraction: _set_progress(video.pk, 0.5 * fraction)  # noqa: E731 - stitching is the first half
    if storage.is_s3():
        result = stitch.stitch_s3(storage.s3_client(), storage.bucket(), pieces, source_key, report)
        size = result.size
        logger.info(
            "video %s stitched on S3: %s bytes, %s copied parts, %s buffered parts",
            video.pk, size, result.copied_parts, result.buffered_parts,
        )
    else:
        size = stitch.stitch_files(Path(settings.MEDIA_ROOT), pieces, source_key, report)
    metrics.ASSEMBLED_BYTES.inc(size)
    Video.objects.filter(pk=video.pk).update(source_key=source_key, size=size, progress=0.5)

    workdir = Path(tempfile.mkdtemp(prefix=f"recordplus-assemble-{video.pk}-"))
    try:
        outcome = media.make_playable(
            storage=storage.storage(),
            source_key=source_key,
            prefix=video.storage_prefix,
            workdir=workdir,
            progress=lambda fraction: _set_progress(video.pk, 0.5 + 0.5 * fraction),
        )
    except media.MediaRejected as exc:
        _fail(video.pk, str(exc), code="rejected")
        metrics.JOBS_FINISHED.labels("assemble", "failed").inc()
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    with transaction.atomic():
        Video.objects.filter(pk=video.pk).update(
            status=Video.Status.READY,
            error="",
            progress=1.0,
            video_key=outcome.video_key,
            content_type=outcome.content_type,
            container=outcome.container or "",
            video_codec=outcome.video_codec or "",
            audio_codec=outcome.audio_codec or "",
            duration=outcome.duration,
            width=outcome.width,
            height=outcome.height,
            frame_rate=outcome.frame_rate,
            has_audio=outcome.has_audio,
            size=outcome.size,
            thumbnail_key=outcome.thumbnail_key or "",
            audio_key=outcome.audio_key or "",
            ready_at=timezone.now(),
            updated_at=timezone.now(),
        )
        Chunk.objects.filter(video=video).delete()
        transcript_request(video_id=video.pk)
    _cleanup_chunks(video)
    metrics.ASSEMBLY_DURATION.observe(time.monotonic() - started)
    metrics.JOBS_FINISHED.labels("assemble", "done").inc()
    logger.info("video %s ready in %.2fs", video.pk, time.monotonic() - started)
    return None


def fail_permanently(video_id: int, reason: str) -> None:
    """Record a failure that retrying will not fix (called when retries are exhausted)."""
    _fail(video_id, reason, code="exhausted")
