"""The actor is the wire contract: its name, queue, limits, retry rule and argument."""

from __future__ import annotations

import inspect

from recordplus.core import jobs, messaging
from recordplus.core.errors import JobFailed


def test_it_declares_the_transcribe_actor() -> None:
    from recordplus.transcriber.config import transcribe_settings
    from recordplus.transcriber.tasks import transcribe_video

    settings = transcribe_settings()
    assert transcribe_video.actor_name == messaging.ACTOR_TRANSCRIBE == "transcribe_video"
    assert transcribe_video.queue_name == messaging.QUEUE_TRANSCRIBE == "transcribe"
    assert transcribe_video.options["time_limit"] == settings.time_limit_seconds * 1000
    # The attempts that count are on the Transcript row (TRANSCRIBE_MAX_ATTEMPTS, see
    # test_transcript_lifecycle); Dramatiq redelivers until the job says it is over.
    assert transcribe_video.options["retry_when"] is jobs.retry_when
    assert JobFailed in transcribe_video.options["throws"]
    assert not jobs.retry_when(0, JobFailed("failed for good"))
    assert jobs.retry_when(settings.max_attempts, ConnectionError("broker away"))
    assert list(inspect.signature(transcribe_video.fn).parameters) == ["video_id"]
