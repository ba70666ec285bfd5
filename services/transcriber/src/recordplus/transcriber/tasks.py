"""Dramatiq actors of the transcriber: thin entry points that fetch by id and call a service."""

from __future__ import annotations

import dramatiq

from recordplus.core import messaging
from recordplus.core.metrics import JOBS_RUNNING, JOBS_STARTED
from recordplus.transcriber.services import transcribe_settings

messaging.get_broker()  # actors bind to the broker configured from settings

_settings = transcribe_settings()


@dramatiq.actor(
    queue_name=messaging.QUEUE_TRANSCRIBE,
    actor_name=messaging.ACTOR_TRANSCRIBE,
    # Attempts are counted on the Transcript row (TRANSCRIBE_MAX_ATTEMPTS); Dramatiq only has
    # to redeliver that many times.
    max_retries=_settings.max_attempts - 1,
    min_backoff=5_000,
    max_backoff=300_000,
    time_limit=_settings.time_limit_seconds * 1000,
)
def transcribe_video(video_id: int) -> None:
    """Transcribe video `video_id` (WhisperX or faster-whisper, per TRANSCRIBE_ENGINE)."""
    from recordplus.transcriber.services import transcript_process

    JOBS_STARTED.labels(messaging.QUEUE_TRANSCRIBE).inc()
    JOBS_RUNNING.labels(messaging.QUEUE_TRANSCRIBE).inc()
    try:
        transcript_process(video_id=video_id)
    finally:
        JOBS_RUNNING.labels(messaging.QUEUE_TRANSCRIBE).dec()

