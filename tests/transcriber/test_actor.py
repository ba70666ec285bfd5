"""The actor is the wire contract: its name, queue, limits and argument."""

from __future__ import annotations

import inspect

from recordplus.core import messaging


def test_it_declares_the_transcribe_actor() -> None:
    from recordplus.transcriber.tasks import transcribe_video
    from recordplus.transcriber.services import transcribe_settings

    settings = transcribe_settings()
    assert transcribe_video.actor_name == messaging.ACTOR_TRANSCRIBE == "transcribe_video"
    assert transcribe_video.queue_name == messaging.QUEUE_TRANSCRIBE == "transcribe"
    assert transcribe_video.options["time_limit"] == settings.time_limit_seconds * 1000
    assert transcribe_video.options["max_retries"] == settings.max_attempts - 1
    assert list(inspect.signature(transcribe_video.fn).parameters) == ["video_id"]
