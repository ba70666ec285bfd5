"""Dramatiq actors of the assembler: thin entry points that fetch by id and call the pipeline."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.middleware import CurrentMessage

from recordplus.core import messaging

logger = logging.getLogger(__name__)

messaging.get_broker()  # actors bind to the broker configured from settings


@dramatiq.actor(
    queue_name=messaging.QUEUE_ASSEMBLE,
    actor_name=messaging.ACTOR_ASSEMBLE,
    max_retries=5,
    min_backoff=2_000,
    max_backoff=120_000,
    time_limit=2 * 60 * 60 * 1000,
)
def assemble_video(video_id: int) -> None:
    """Turn video `video_id`'s chunks into its playable video (retried with backoff on errors)."""
    from recordplus.assembler import pipeline
    from recordplus.core import metrics

    metrics.JOBS_RUNNING.labels(messaging.QUEUE_ASSEMBLE).inc()
    try:
        outcome = pipeline.assemble(video_id)
    except Exception as exc:
        message = CurrentMessage.get_current_message()
        attempt = (message.options.get("retries", 0) if message else 0) + 1
        if attempt > assemble_video.options["max_retries"]:
            pipeline.fail_permanently(video_id, f"assembly failed after {attempt} attempts: {exc}")
            return
        metrics.JOBS_FINISHED.labels(messaging.QUEUE_ASSEMBLE, "retry").inc()
        raise
    finally:
        metrics.JOBS_RUNNING.labels(messaging.QUEUE_ASSEMBLE).dec()
    if isinstance(outcome, pipeline.NotYet):
        messaging.send_assemble(video_id, delay_seconds=outcome.delay_seconds)
