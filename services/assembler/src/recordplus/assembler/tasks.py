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

    _kick_live(video_id)  # the upload is closing: the live decoder may decode the tail now
    wait = pipeline.assemble(video_id)
    if wait is not None:  # the settle window is still open: come back when it closes
        raise dramatiq.Retry(delay=int(wait.delay_seconds * 1000))
    _kick_live(video_id)


def _kick_live(video_id: int) -> None:
    from recordplus.transcripts.live_services import live_get
    from recordplus.transcripts.models import LiveTranscript

    live = live_get(video_id=video_id)
    if live is not None and live.status == LiveTranscript.Status.ACTIVE:
        messaging.send_live_decode(video_id)


@dramatiq.actor(
    queue_name=messaging.QUEUE_ASSEMBLE,
    actor_name=messaging.ACTOR_LIVE_DECODE,
    min_backoff=1_000,
    max_backoff=30_000,
    time_limit=30 * 60 * 1000,
    **jobs.ACTOR_OPTIONS,
)
def live_decode(video_id: int) -> None:
    """Decode the audio video `video_id` received since the last step and close the windows
    that ended at a pause (live transcription, issue 11); a no-op for uploads that do not
    qualify."""
    from recordplus.assembler import live_decode as decoder

    decoder.live_decode(video_id)
