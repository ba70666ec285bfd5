"""Dramatiq actors of the transcriber: thin entry points that call the job by video id."""

from __future__ import annotations

import dramatiq

from recordplus.core import jobs, messaging
from recordplus.transcriber.config import transcribe_settings

messaging.get_broker()  # actors bind to the broker configured from settings


@dramatiq.actor(
    queue_name=messaging.QUEUE_TRANSCRIBE,
    actor_name=messaging.ACTOR_TRANSCRIBE,
    min_backoff=5_000,
    max_backoff=300_000,
    time_limit=transcribe_settings().time_limit_seconds * 1000,
    **jobs.ACTOR_OPTIONS,
)
def transcribe_video(video_id: int) -> None:
    """Transcribe video `video_id` (WhisperX or faster-whisper, per TRANSCRIBE_ENGINE); the
    attempts are counted on the Transcript row (TRANSCRIBE_MAX_ATTEMPTS), the retry rule is
    core.jobs'."""
    from recordplus.transcriber import job
    from recordplus.transcripts.services import transcript_fair_wait, transcript_lease_wait

    # Another worker holds the job (or held it and died): come back when its lease runs out.
    # Else the owner may already have MAX_CONCURRENT_JOBS_PER_USER transcriptions running.
    wait = transcript_lease_wait(video_id=video_id) or transcript_fair_wait(video_id=video_id)
    if wait > 0:
        raise dramatiq.Retry(delay=int(wait * 1000) + 500)
    job.transcribe(video_id)


@dramatiq.actor(
    queue_name=messaging.QUEUE_TRANSCRIBE,
    actor_name=messaging.ACTOR_LIVE_WINDOW,
    min_backoff=2_000,
    max_backoff=60_000,
    time_limit=transcribe_settings().time_limit_seconds * 1000,
    **jobs.ACTOR_OPTIONS,
)
def live_transcribe_window(video_id: int, index: int) -> None:
    """Transcribe live window `index` of video `video_id` (issue 11); the attempts are counted
    on the LiveWindow row (LIVE_MAX_ATTEMPTS), the retry rule is core.jobs'."""
    from recordplus.transcriber import live
    from recordplus.transcripts.live_services import live_window_wait

    wait = live_window_wait(video_id=video_id, index=index)
    if wait > 0:  # another worker holds it (or held it and died): come back when its lease ends
        raise dramatiq.Retry(delay=int(wait * 1000) + 500)
    live.transcribe_window(video_id, index)


@dramatiq.actor(
    queue_name=messaging.QUEUE_TRANSCRIBE,
    actor_name=messaging.ACTOR_LIVE_PROVISIONAL,
    max_retries=0,  # best effort: the next decode step asks again
    time_limit=55_000,  # inside its lease (live_services.PROVISIONAL_LEASE_SECONDS)
)
def live_transcribe_provisional(video_id: int, mark: int) -> None:
    """Draft the provisional caption of video `video_id`'s open window (issue 11); never
    retried, never counted in an attempt limit, never fails the video or the live path."""
    from recordplus.transcriber import live

    live.transcribe_provisional(video_id, mark)
