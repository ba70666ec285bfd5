"""The live decoder's throttle: at most one decode message per upload per interval, and every
received chunk read by a step that comes after it.

Bugs it catches: a chunk landing after the scheduled step ran but within the interval getting
no message (its audio waits for the next chunk, or for stop), a message per chunk again (a
decode step per second of audio: rows, commits and stored PCM each time), the last chunk held
back by the throttle (stop → transcript waits for it), the closing of an upload not decoding
its tail at once.
"""

from __future__ import annotations

import pytest
from recordplus.core import live_trigger



@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, settings) -> list[tuple[int, float | None]]:  # noqa: ANN001
    settings.LIVE_DECODE_INTERVAL_SECONDS = 2.0
    calls: list[tuple[int, float | None]] = []
    monkeypatch.setattr(live_trigger.messaging, "send_live_decode",
                        lambda video_id, delay_seconds=None: calls.append((video_id, delay_seconds)))  # fmt: skip
    monkeypatch.setattr(live_trigger, "_due", {})
    return calls


def test_a_step_at_most_every_interval_and_none_left_behind(sent: list[tuple[int, float | None]]) -> None:
    live_trigger.chunk_received(7, now=100.0)  # the first: at once
    live_trigger.chunk_received(7, now=100.5)  # within the interval: scheduled at 102.0
    live_trigger.chunk_received(7, now=101.0)  # the scheduled step will read this one too
    live_trigger.chunk_received(7, now=101.9)
    assert sent == [(7, None), (7, pytest.approx(1.5))]
    live_trigger.chunk_received(7, now=102.5)  # after the scheduled step ran: the next at 104.0
    assert sent[-1] == (7, pytest.approx(1.5))
    live_trigger.chunk_received(7, now=110.0)  # long after: at once
    assert sent[-1] == (7, None) and len(sent) == 4


def test_uploads_are_throttled_each_on_its_own(sent: list[tuple[int, float | None]]) -> None:
    live_trigger.chunk_received(1, now=50.0)
    live_trigger.chunk_received(2, now=50.1)
    assert sent == [(1, None), (2, None)]


def test_the_last_chunk_and_the_closing_are_never_held_back(sent: list[tuple[int, float | None]]) -> None:
    live_trigger.chunk_received(3, now=10.0)
    live_trigger.chunk_received(3, now=10.2)  # scheduled at 12.0
    live_trigger.chunk_received(3, now=10.4, last=True)
    assert sent[-1] == (3, None)
    live_trigger.upload_closed(3)
    assert sent[-1] == (3, None) and 3 not in live_trigger._due


def test_interval_zero_is_a_step_after_every_chunk(sent: list[tuple[int, float | None]], settings) -> None:  # noqa: ANN001
    settings.LIVE_DECODE_INTERVAL_SECONDS = 0.0
    for at in (1.0, 1.1, 1.2):
        live_trigger.chunk_received(4, now=at)
    assert sent == [(4, None)] * 3
