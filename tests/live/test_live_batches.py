"""Live windows of many recordings decoded in one engine call (issue 11: a GPU transcriber
batches the windows of many live recordings), in-process against the test database with a
stand-in batching engine; `tests/transcriber/test_engines_on_speech.py` runs the real WhisperX
batch on speech.

Bugs it catches: a batching transcriber taking one window a call (a GPU idles between tiny
calls), a window taken along but its result stored on another window or at the wrong time, a
taken window's own message transcribing it again, a failed batch leaving the windows it took
held (nobody transcribes them until a lease runs out), windows of a recording no longer live
taken along, LIVE_BATCH_WINDOWS=1 still batching.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from recordplus.assembler.live_audio import wav_bytes
from recordplus.core import messaging
from recordplus.core.storage import get_store, keys
from recordplus.transcriber import live as transcriber_live
from recordplus.transcripts import live_services
from recordplus.transcripts.models import LiveTranscript, LiveWindow
from recordplus.transcripts.records import Segment
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 16000


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # noqa: ANN001
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LIVE_BATCH_WINDOWS = 8
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messaging, "send_transcribe", lambda video_id, **_: None)


class BatchingEngine:
    """Says how long each window it heard was; records how it was called."""

    name = "fake"
    model_label = "fake"

    def __init__(self) -> None:
        self.calls: list[list[float]] = []
        self.fail: Exception | None = None

    def _heard(self, samples: np.ndarray) -> tuple[str, list[Segment]]:
        seconds = len(samples) / RATE
        return "en", [Segment(0.0, seconds, f"heard {seconds:.1f} seconds", [])]

    def transcribe(self, samples: np.ndarray, language: str | None = None, on_progress=None, *, draft: bool = False):  # noqa: ANN001
        self.calls.append([len(samples) / RATE])
        return self._heard(samples)

    def transcribe_many(self, windows: list[tuple[np.ndarray, str | None]]) -> list[tuple[str, list[Segment]]]:
        self.calls.append([len(samples) / RATE for samples, _ in windows])
        if self.fail is not None:
            raise self.fail
        return [self._heard(samples) for samples, _ in windows]


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> BatchingEngine:
    fake = BatchingEngine()
    monkeypatch.setattr(transcriber_live, "load_engine", lambda settings: fake)
    return fake


def recording(lengths: list[float], status: str = LiveTranscript.Status.ACTIVE) -> Video:
    """A live video with closed windows of `lengths` seconds, waiting for the transcriber."""
    video = Video.objects.create(title="live")
    LiveTranscript.objects.create(video=video, status=status, windows=len(lengths))
    start = 0.0
    for index, seconds in enumerate(lengths):
        key = keys.live_window(video.public_id, index)
        get_store().write(key, io.BytesIO(wav_bytes(np.zeros(int(seconds * RATE), dtype=np.int16))))
        LiveWindow.objects.create(video=video, index=index, start=start, end=start + seconds, audio_key=key)
        start += seconds
    return video


def rows(video: Video) -> list[tuple[str, list[tuple[float, float, str]]]]:
    return [
        (w.status, [(s["start"], s["end"], s["text"]) for s in w.segments])
        for w in LiveWindow.objects.filter(video=video).order_by("index")
    ]


def test_a_batching_engine_takes_the_waiting_windows_of_other_recordings(engine: BatchingEngine) -> None:
    one, two = recording([16.0]), recording([20.0, 18.0])
    transcriber_live.transcribe_window(one.pk, 0)
    assert engine.calls == [[16.0, 20.0, 18.0]]  # one call, its own window first
    assert rows(one) == [("done", [(0.0, 16.0, "heard 16.0 seconds")])]
    # Each result on its own window, at that window's place in its recording.
    assert rows(two) == [("done", [(0.0, 20.0, "heard 20.0 seconds")]), ("done", [(20.0, 38.0, "heard 18.0 seconds")])]
    # The taken windows' own messages find them done: nothing is transcribed twice.
    transcriber_live.transcribe_window(two.pk, 0)
    transcriber_live.transcribe_window(two.pk, 1)
    assert len(engine.calls) == 1


def test_a_batch_takes_no_more_than_the_setting(engine: BatchingEngine, settings) -> None:  # noqa: ANN001
    settings.LIVE_BATCH_WINDOWS = 2
    one, two = recording([16.0]), recording([20.0, 18.0])
    transcriber_live.transcribe_window(one.pk, 0)
    assert engine.calls == [[16.0, 20.0]]
    assert [status for status, _ in rows(two)] == ["done", "pending"]
    settings.LIVE_BATCH_WINDOWS = 1
    transcriber_live.transcribe_window(two.pk, 1)
    assert engine.calls[-1] == [18.0]  # one window, through `transcribe`


def test_windows_of_recordings_no_longer_live_are_left_alone(engine: BatchingEngine) -> None:
    one = recording([16.0])
    gone = recording([20.0], status=LiveTranscript.Status.ABANDONED)
    transcriber_live.transcribe_window(one.pk, 0)
    assert engine.calls == [[16.0]]
    assert rows(gone) == [("pending", [])]


def test_a_failed_batch_gives_every_window_it_took_back(engine: BatchingEngine) -> None:
    one, two = recording([16.0]), recording([20.0])
    engine.fail = ConnectionError("the GPU went away")
    with pytest.raises(ConnectionError):
        transcriber_live.transcribe_window(one.pk, 0)
    for video in (one, two):
        window = LiveWindow.objects.get(video=video)
        assert (window.status, window.lease_expires_at, window.attempts) == ("pending", None, 1), video
    # Taken again by their own messages, as if never batched.
    engine.fail = None
    transcriber_live.transcribe_window(two.pk, 0)
    assert rows(two) == [("done", [(0.0, 20.0, "heard 20.0 seconds")])]
    assert live_services.live_window_wait(video_id=one.pk, index=0) == 0.0


def test_an_engine_that_cannot_load_gives_the_window_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading the engine is part of the attempt: a load that fails transiently releases the
    window for its retry instead of leaving it held until its lease runs out."""

    def unavailable(settings):  # noqa: ANN001, ANN202
        raise ConnectionError("the model volume is not mounted yet")

    monkeypatch.setattr(transcriber_live, "load_engine", unavailable)
    one = recording([16.0])
    with pytest.raises(ConnectionError):
        transcriber_live.transcribe_window(one.pk, 0)
    window = LiveWindow.objects.get(video=one)
    assert (window.status, window.lease_expires_at, window.attempts) == ("pending", None, 1)
