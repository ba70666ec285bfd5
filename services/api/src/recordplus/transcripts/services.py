"""Writes for transcripts: request, claim, finish, fail, release and reconcile.

Workers and the API both change a Transcript only through these functions. The row is the
source of truth; a message only says "look at video N". A job holds a *lease*
(`lease_expires_at`): a worker that dies or hits its time limit leaves a lease that expires,
after which the reconciler (or a redelivered message) takes the job over, so `running` is
never forever.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from recordplus.core import jobs, messaging, metrics
from recordplus.core.errors import Conflict
from recordplus.transcripts.models import Transcript
from recordplus.transcripts.records import TranscriptResult, rounded
from recordplus.videos.models import Video

logger = logging.getLogger(__name__)


def transcript_request(*, video_id: int) -> Transcript:
    """Create (or reset to pending) the video's transcript and enqueue the transcriber after commit.

    A `done` transcript is kept (re-finishing a video does not transcribe it twice); use
    `transcript_rerun` to force a new run.
    """
    with transaction.atomic():
        transcript, created = Transcript.objects.get_or_create(video_id=video_id)
        if not created and transcript.status != Transcript.Status.DONE:
            transcript.status = Transcript.Status.PENDING
            transcript.error = ""
            transcript.attempts = 0
            transcript.lease_expires_at = None
            transcript.save(update_fields=["status", "error", "attempts", "lease_expires_at", "updated_at"])
        if transcript.status == Transcript.Status.PENDING:
            transaction.on_commit(lambda: messaging.send_transcribe(video_id))
    return transcript


def transcript_rerun(*, video: Video) -> Transcript:
    """Transcribe a ready video again, whatever the state of its transcript (409 while running)."""
    if video.status != Video.Status.READY:
        raise Conflict(f"the video is {video.status}; it can be transcribed once it is ready", {"status": video.status})
    with transaction.atomic():
        transcript, _ = Transcript.objects.select_for_update().get_or_create(video=video)
        if transcript.status == Transcript.Status.RUNNING and _lease_alive(transcript):
            raise Conflict("the video is being transcribed right now", {"status": transcript.status})
        transcript.status = Transcript.Status.PENDING
        transcript.error = ""
        transcript.attempts = 0
        transcript.lease_expires_at = None
        transcript.save(update_fields=["status", "error", "attempts", "lease_expires_at", "updated_at"])
        transaction.on_commit(lambda: messaging.send_transcribe(video.pk))
    return transcript


def _lease_alive(transcript: Transcript) -> bool:
    return transcript.lease_expires_at is not None and transcript.lease_expires_at > timezone.now()


# Transcriptions of one user running at once (MAX_CONCURRENT_JOBS_PER_USER); the others wait.
BUSY_DELAY_SECONDS = 10.0


def transcript_fair_wait(*, video_id: int) -> float:
    """Seconds to defer transcribing `video_id` because its owner already has
    MAX_CONCURRENT_JOBS_PER_USER transcriptions running (0: go ahead)."""
    from django.conf import settings

    limit = settings.MAX_CONCURRENT_JOBS_PER_USER
    video = Video.objects.filter(pk=video_id).only("owner_id").first()
    if limit <= 0 or video is None:
        return 0.0
    same_owner = Q(video__owner__isnull=True) if video.owner_id is None else Q(video__owner_id=video.owner_id)
    running = (
        Transcript.objects.filter(same_owner, status=Transcript.Status.RUNNING, lease_expires_at__gt=timezone.now())
        .exclude(video_id=video_id)
        .count()
    )
    return BUSY_DELAY_SECONDS if running >= limit else 0.0


def transcript_lease_wait(*, video_id: int) -> float:
    """Seconds until another worker's live lease on this transcript runs out (0 when none).
    A redelivered message waits that long instead of being dropped: if the holder died (OOM,
    kill), the job is taken over then — and counted — without waiting for the reconciler."""
    lease = (
        Transcript.objects.filter(video_id=video_id, status=Transcript.Status.RUNNING)
        .values_list("lease_expires_at", flat=True)
        .first()
    )
    if lease is None:
        return 0.0
    return max((lease - timezone.now()).total_seconds(), 0.0)


def transcript_claim(*, video_id: int, lease_seconds: float, max_attempts: int) -> Transcript | None:
    """Take the video's transcript for a worker: `pending` (or `running` with an expired lease)
    becomes `running` with a fresh lease and one more attempt.

    None when there is nothing to do: no such video, already done or failed, another worker
    holds a live lease — or the attempts ran out (each earlier one ended without a result, so
    the worker died on it: a poison message), in which case the transcript is failed here.
    """
    now = timezone.now()
    with transaction.atomic():
        if not Video.objects.filter(pk=video_id).exists():
            return None
        transcript, _ = Transcript.objects.select_for_update().get_or_create(video_id=video_id)
        if transcript.status in (Transcript.Status.DONE, Transcript.Status.FAILED):
            return None
        if transcript.status == Transcript.Status.RUNNING and _lease_alive(transcript):
            return None
        transcript.status = Transcript.Status.RUNNING
        transcript.attempts += 1
        transcript.started_at = now
        transcript.finished_at = None
        transcript.progress = 0.0
        transcript.lease_expires_at = now + timedelta(seconds=lease_seconds)
        transcript.save(
            update_fields=["status", "attempts", "started_at", "finished_at", "progress", "lease_expires_at", "updated_at"]
        )
        given_up = jobs.give_up_at_claim(transcript.attempts, max_attempts)
        if given_up:
            transcript_fail(transcript=transcript, error=given_up)
            metrics.PIPELINE_FAILURES.labels("transcribe", "gave_up").inc()
            logger.warning("transcript of video %s failed: %s", video_id, given_up)
            return None
    return Transcript.objects.select_related("video").get(pk=transcript.pk)


def transcript_set_progress(*, video_id: int, fraction: float) -> None:
    """How far the video's running transcription has got (0..1); only forward, only while running."""
    fraction = min(max(float(fraction), 0.0), 1.0)
    Transcript.objects.filter(video_id=video_id, status=Transcript.Status.RUNNING, progress__lt=fraction).update(
        progress=fraction, updated_at=timezone.now()
    )


def transcript_complete(*, transcript: Transcript, result: TranscriptResult) -> Transcript:
    """Record a finished transcription (the same values its transcript.json holds)."""
    transcript.status = Transcript.Status.DONE
    transcript.progress = 1.0
    transcript.language = result.language
    transcript.engine = result.engine
    transcript.model = result.model
    transcript.text = result.text
    transcript.segments = result.segments_data()
    transcript.note = result.note
    transcript.audio_seconds = rounded(result.audio_seconds)
    transcript.wall_seconds = rounded(result.wall_seconds)
    transcript.error = ""
    transcript.finished_at = timezone.now()
    transcript.lease_expires_at = None
    transcript.save()
    return transcript


def transcript_fail(*, transcript: Transcript, error: str) -> Transcript:
    """Mark the transcript failed for good with a reason a user can read."""
    transcript.status = Transcript.Status.FAILED
    transcript.error = error[:2000]
    transcript.finished_at = timezone.now()
    transcript.lease_expires_at = None
    transcript.save(update_fields=["status", "error", "finished_at", "lease_expires_at", "updated_at"])
    return transcript


def transcript_release(*, transcript: Transcript, error: str) -> Transcript:
    """Give a failed attempt back: `pending` again (the broker retries it), the reason kept."""
    transcript.status = Transcript.Status.PENDING
    transcript.error = f"attempt {transcript.attempts} failed, retrying: {error}"[:2000]
    transcript.lease_expires_at = None
    transcript.save(update_fields=["status", "error", "lease_expires_at", "updated_at"])
    return transcript


def transcript_reconcile(*, stale_seconds: float | None) -> list[int]:
    """Re-enqueue transcripts the database says are unfinished; returns their video ids.

    `stale_seconds=None` is the embedded mode's start-up: its in-memory broker forgot every
    message and no other worker exists, so every `pending` and `running` transcript is taken
    back. Otherwise (a periodic pass in a cluster) `pending` ones untouched for that long (a
    lost message) and `running` ones whose lease expired (a dead worker) are re-enqueued.
    """
    now = timezone.now()
    unfinished = Transcript.objects.filter(status__in=[Transcript.Status.PENDING, Transcript.Status.RUNNING])
    if stale_seconds is not None:
        unfinished = unfinished.filter(
            Q(status=Transcript.Status.PENDING, updated_at__lt=now - timedelta(seconds=stale_seconds))
            | Q(status=Transcript.Status.RUNNING, lease_expires_at__lt=now)
            | Q(status=Transcript.Status.RUNNING, lease_expires_at__isnull=True)
        )
    ids = list(unfinished.values_list("video_id", flat=True))
    # Back to pending with the lease dropped, and touched so the next pass waits a full period.
    Transcript.objects.filter(video_id__in=ids).update(
        status=Transcript.Status.PENDING, lease_expires_at=None, updated_at=now
    )
    for video_id in ids:
        messaging.send_transcribe(video_id)
    if ids:
        logger.info("reconciler re-enqueued transcription of videos %s", ids)
    return ids
