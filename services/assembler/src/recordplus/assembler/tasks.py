"""Dramatiq actors of the assembler: thin entry points that call the pipeline by video id."""

from __future__ import annotations

import dramatiq

from recordplus.core import jobs, messaging

messaging.get_broker()  # actors bind to the broker configured from settings


@dramatiq.actor(
    queue_name=messaging.QUEUE_ASSEMBLE,
    actor_name=messaging.ACTOR_ASSEMBLE,
    min_backoff=2_000,
    max_backoff=120_000,
    time_limit=2 * 60 * 60 * 1000,
    **jobs.ACTOR_OPTIONS,
)
def assemble_video(video_id: int) -> None:
    """Turn video `video_id`'s chunks into its playable video (the retry rule is core.jobs')."""
    from recordplus.assembler import pipeline

    wait = pipeline.assemble(video_id)
    if wait is not None:  # the settle window is still open: come back when it closes
        raise dramatiq.Retry(delay=int(wait.delay_seconds * 1000))
