"""The provisional event on the live stream (issue 11): its text, and when it is sent.

Bugs it catches: the provisional event's text always empty (the draft never reaches the
stream); a draft shown for audio it does not cover (a draft of a window that closed, or a tail
that still spans closed windows being transcribed); an event shape that breaks existing
clients (keys other than start/end/text); a changed draft not sent again, or an unchanged one
sent on every poll.
"""

from __future__ import annotations

import json

import pytest
from recordplus.transcripts.live_stream import events_for, live_snapshot
from recordplus.transcripts.models import LiveTranscript, LiveWindow
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db

RATE = 16000


def live_video(**fields) -> Video:
    video = Video.objects.create(title="stream")
    LiveTranscript.objects.create(video=video, **fields)
    return video


def window(video: Video, index: int, start: float, end: float, status: str = "done", text: str = "") -> None:
    segments = [{"start": start, "end": end, "text": text, "words": []}] if text else []
    LiveWindow.objects.create(
        video=video, index=index, start=start, end=end, status=status, audio_key=f"k{index}", segments=segments
    )


def provisional_events(out: list[bytes]) -> list[dict]:
    events = []
    for raw in out:
        lines = dict(line.split(": ", 1) for line in raw.decode().strip().split("\n"))
        if lines.get("event") == "provisional":
            assert "id" not in lines
            events.append(json.loads(lines["data"]))
    return events


def test_it_carries_the_open_windows_draft() -> None:
    video = live_video(
        decoded_samples=30 * RATE, window_start=20 * RATE,
        provisional_text="and then we", provisional_start=20 * RATE, provisional_end=27 * RATE,
    )  # fmt: skip
    window(video, 0, 0.0, 20.0, text="first window")
    snapshot = live_snapshot(video.pk)
    assert [s["text"] for s in snapshot.segments] == ["first window"]
    assert snapshot.provisional == {"start": 20.0, "end": 30.0, "text": "and then we"}
    out, sent, over = events_for(snapshot, 0, None)
    assert provisional_events(out) == [{"start": 20.0, "end": 30.0, "text": "and then we"}]
    assert sent == 0 and not over


def test_a_new_draft_is_sent_again_and_an_unchanged_one_is_not() -> None:
    video = live_video(
        decoded_samples=8 * RATE, provisional_text="hello", provisional_start=0, provisional_end=7 * RATE
    )
    first = live_snapshot(video.pk)
    assert provisional_events(events_for(first, -1, None)[0]) == [{"start": 0.0, "end": 8.0, "text": "hello"}]
    assert events_for(live_snapshot(video.pk), -1, first.provisional)[0] == []
    LiveTranscript.objects.filter(video=video).update(provisional_text="hello there", provisional_end=8 * RATE)
    assert provisional_events(events_for(live_snapshot(video.pk), -1, first.provisional)[0]) == [
        {"start": 0.0, "end": 8.0, "text": "hello there"}
    ]


def test_it_shows_no_draft_of_another_window() -> None:
    # The draft is of window 0 (samples 0..), but window 0 closed: the open one starts at 20 s.
    video = live_video(
        decoded_samples=25 * RATE, window_start=20 * RATE,
        provisional_text="stale words", provisional_start=0, provisional_end=19 * RATE,
    )  # fmt: skip
    window(video, 0, 0.0, 20.0, text="committed words")
    assert live_snapshot(video.pk).provisional == {"start": 20.0, "end": 25.0, "text": ""}


def test_it_shows_no_draft_while_closed_windows_are_transcribed() -> None:
    # Window 1 (20-40 s) is still transcribing: the tail starts at 20 s, the draft at 40 s.
    video = live_video(
        decoded_samples=50 * RATE, window_start=40 * RATE,
        provisional_text="later words", provisional_start=40 * RATE, provisional_end=48 * RATE,
    )  # fmt: skip
    window(video, 0, 0.0, 20.0, text="one")
    window(video, 1, 20.0, 40.0, status="running")
    assert live_snapshot(video.pk).provisional == {"start": 20.0, "end": 50.0, "text": ""}
    LiveWindow.objects.filter(video=video, index=1).update(status="done")
    assert live_snapshot(video.pk).provisional == {"start": 40.0, "end": 50.0, "text": "later words"}


def test_it_shows_no_draft_once_the_recording_ended() -> None:
    video = live_video(
        status="ended", decoded_samples=10 * RATE, window_start=10 * RATE,
        provisional_text="late", provisional_start=10 * RATE, provisional_end=10 * RATE,
    )  # fmt: skip
    window(video, 0, 0.0, 10.0, status="pending")
    assert live_snapshot(video.pk).provisional == {"start": 0.0, "end": 10.0, "text": ""}
