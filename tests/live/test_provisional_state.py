"""The provisional caption's bookkeeping (issue 11), in-process against the test database.

Decode steps are recorded through `live_services.live_record_step` exactly as the decoder does
(stored open-window PCM pieces, closed windows), the messages are captured, and the pass runs
`recordplus.transcriber.live.transcribe_provisional` with a stand-in engine.

Bugs it catches: a draft recorded (or still shown) after its window closed — the reader would
see words that belong to a committed window as if they were still pending; a second pass sent
while one is in flight (a request per decode step: the engine drafts the same audio over and
over); a pass sent, or run, while a closed window waits for the transcriber (captions that
count arrive later); LIVE_PROVISIONAL_SECONDS=0 still drafting; a pass that dies holding its
lease blocking provisional text for good; a vanished piece failing the video; the committed
windows getting the cheap decoding.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from django.utils import timezone
from recordplus.core import messaging
from recordplus.core.storage import get_store, keys
from recordplus.transcriber import live as transcriber_live
from recordplus.transcripts import live_services
from recordplus.transcripts.live_services import NewWindow
from recordplus.transcripts.live_stream import live_snapshot
from recordplus.transcripts.models import LiveTranscript, LiveWindow
from recordplus.transcripts.records import Segment
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)

RATE = 16000


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LIVE_PROVISIONAL_SECONDS = 6.0
    return tmp_path / "media"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    out: dict[str, list] = {"provisional": [], "window": []}
    monkeypatch.setattr(messaging, "send_live_provisional", lambda video_id, mark: out["provisional"].append((video_id, mark)))
    monkeypatch.setattr(messaging, "send_live_window", lambda video_id, index, **_: out["window"].append((video_id, index)))
    monkeypatch.setattr(messaging, "send_transcribe", lambda video_id, **_: None)
    return out


class FakeEngine:
    """Says how many seconds it heard; records how it was called."""

    name = "fake"
    model_label = "fake"

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.before: list = []  # callables run inside the call (something happening meanwhile)

    def transcribe(self, samples: np.ndarray, language: str | None = None, on_progress=None, *, draft: bool = False):
        self.calls.append({"seconds": len(samples) / RATE, "draft": draft})
        while self.before:
            self.before.pop(0)()
        seconds = len(samples) / RATE
        return "en", [Segment(0.0, seconds, f"heard {seconds:.0f} seconds", [])]


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(transcriber_live, "load_engine", lambda settings: fake)
    return fake


class Recording:
    """A live video whose decode steps are recorded as the decoder records them."""

    def __init__(self) -> None:
        self.video = Video.objects.create(title="provisional")
        LiveTranscript.objects.create(video=self.video)
        claimed = live_services.live_claim_decode(video_id=self.video.pk)
        assert claimed is not None
        self.live = claimed
        self.windows = 0

    def row(self) -> LiveTranscript:
        return LiveTranscript.objects.get(video=self.video)

    def _piece(self, start: int, count: int) -> list:
        key = keys.live_pcm(self.video.public_id, start)
        tone = (np.sin(np.arange(count) / 7.0) * 3000).astype("<i2")
        get_store().write(key, io.BytesIO(tone.tobytes()))
        return [start, count, key]

    def grow(self, seconds: float) -> None:
        """One step: `seconds` more audio in the open window, no window closed."""
        row = self.row()
        count = int(seconds * RATE)
        pieces = [*row.open_pieces, self._piece(row.decoded_samples, count)]
        assert live_services.live_record_step(
            live=self.live,
            fields={"decoded_samples": row.decoded_samples + count, "open_pieces": pieces},
            windows=[],
            ended=False,
        )

    def close(self, after: float, more: float = 1.0) -> None:
        """One step: the open window closes `after` seconds into it; `more` seconds stay open."""
        row = self.row()
        cut = row.window_start + int(after * RATE)
        end = row.decoded_samples + int(more * RATE)
        window = NewWindow(self.windows, row.window_start / RATE, cut / RATE, f"live/window-{self.windows}.wav")
        self.windows += 1
        assert live_services.live_record_step(
            live=self.live,
            fields={"decoded_samples": end, "window_start": cut, "open_pieces": [self._piece(cut, end - cut)]},
            windows=[window],
            ended=False,
        )
        for start, _count, key in row.open_pieces:  # the decoder removes the replaced pieces
            get_store().delete(key)

    def commit_windows(self) -> None:
        LiveWindow.objects.filter(video=self.video).update(status=LiveWindow.Status.DONE, segments=[])


def test_it_asks_for_a_draft_once_the_open_window_grew_by_the_setting(sent: dict) -> None:
    recording = Recording()
    recording.grow(3.0)
    recording.grow(2.5)
    assert sent["provisional"] == []  # 5.5 s: not yet
    recording.grow(1.0)
    assert sent["provisional"] == [(recording.video.pk, int(6.5 * RATE))]


def test_at_most_one_pass_is_in_flight(sent: dict) -> None:
    """Bug: a request per step while one is queued or running (the same audio drafted over
    and over); and a pass whose worker died blocking provisional text forever."""
    recording = Recording()
    for _ in range(14):
        recording.grow(1.0)
    assert len(sent["provisional"]) == 1  # 14 s grown, but the first pass still holds its lease
    # A second request for the same video is superseded; the one in flight is the only claim.
    video_id, mark = sent["provisional"][0]
    assert live_services.live_provisional_claim(video_id=video_id, mark=mark - 1) is None
    # Its worker died: once the lease ran out, the next step asks again.
    LiveTranscript.objects.filter(video=recording.video).update(
        provisional_lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    recording.grow(1.0)
    assert len(sent["provisional"]) == 2
    assert sent["provisional"][1][1] == int(15 * RATE)


def test_a_finished_pass_lets_the_next_one_go_after_more_audio(sent: dict, engine: FakeEngine) -> None:
    recording = Recording()
    for _ in range(7):
        recording.grow(1.0)
    video_id, mark = sent["provisional"][0]
    transcriber_live.transcribe_provisional(video_id, mark)
    assert engine.calls == [{"seconds": 7.0, "draft": True}]
    row = recording.row()
    assert row.provisional_lease_expires_at is None
    assert (row.provisional_text, row.provisional_start, row.provisional_end) == ("heard 7 seconds", 0, 7 * RATE)
    assert mark == 6 * RATE  # requested at 6 s, drafted at 7 s (the audio there when it ran)
    for _ in range(4):
        recording.grow(1.0)
    assert len(sent["provisional"]) == 1  # 5 s since the last request
    recording.grow(1.0)
    assert len(sent["provisional"]) == 2


def test_a_window_that_closed_meanwhile_never_gets_the_stale_draft(sent: dict, engine: FakeEngine) -> None:
    """Bug: the pass drafted window 0's audio, window 0 closed while it ran, and its text was
    recorded anyway: the reader sees words of a committed window as the pending tail."""
    recording = Recording()
    for _ in range(8):
        recording.grow(1.0)
    video_id, mark = sent["provisional"][0]
    engine.before.append(lambda: recording.close(after=8.0, more=2.0))
    transcriber_live.transcribe_provisional(video_id, mark)
    assert len(engine.calls) == 1
    row = recording.row()
    assert row.provisional_text == "" and row.provisional_lease_expires_at is None
    recording.commit_windows()
    snapshot = live_snapshot(recording.video.pk)
    assert snapshot.provisional == {"start": 8.0, "end": 10.0, "text": ""}


def test_the_draft_is_cleared_when_its_window_closes(sent: dict, engine: FakeEngine) -> None:
    recording = Recording()
    for _ in range(8):
        recording.grow(1.0)
    transcriber_live.transcribe_provisional(*sent["provisional"][0])
    assert live_snapshot(recording.video.pk).provisional == {"start": 0.0, "end": 8.0, "text": "heard 8 seconds"}
    recording.close(after=8.0, more=1.0)
    row = recording.row()
    assert (row.provisional_text, row.provisional_start, row.provisional_end) == ("", 0, 0)
    # Window 0 still transcribing: no text for the tail (it spans window 0 and the new one).
    assert live_snapshot(recording.video.pk).provisional == {"start": 0.0, "end": 9.0, "text": ""}
    recording.commit_windows()
    assert live_snapshot(recording.video.pk).provisional == {"start": 8.0, "end": 9.0, "text": ""}


def test_it_skips_drafts_while_committed_windows_wait(sent: dict, engine: FakeEngine) -> None:
    """Bug: the cheap pass queued (or ran) ahead of a closed window, delaying real captions."""
    recording = Recording()
    for _ in range(3):
        recording.grow(1.0)
    recording.close(after=3.0, more=1.0)  # window 0 pending
    for _ in range(8):
        recording.grow(1.0)
    assert sent["provisional"] == []  # 9 s open, but window 0 waits
    LiveWindow.objects.filter(video=recording.video).update(status=LiveWindow.Status.RUNNING)
    recording.grow(1.0)
    assert sent["provisional"] == []
    recording.commit_windows()
    recording.grow(1.0)
    assert len(sent["provisional"]) == 1
    # Requested, then a window closed before the pass started: the pass steps aside.
    for _ in range(2):
        recording.grow(1.0)
    recording.close(after=12.0, more=1.0)
    transcriber_live.transcribe_provisional(*sent["provisional"][0])
    assert engine.calls == []
    assert recording.row().provisional_lease_expires_at is None


def test_a_window_closing_before_the_pass_takes_the_engine_goes_first(sent: dict, engine: FakeEngine, monkeypatch) -> None:
    recording = Recording()
    for _ in range(7):
        recording.grow(1.0)
    real_turn = transcriber_live.engine_turn_if_free

    class Turn:
        def __enter__(self):
            recording.close(after=7.0, more=1.0)  # closed while the pass read the audio
            self.turn = real_turn()
            return self.turn.__enter__()

        def __exit__(self, *exc):
            return self.turn.__exit__(*exc)

    monkeypatch.setattr(transcriber_live, "engine_turn_if_free", Turn)
    transcriber_live.transcribe_provisional(*sent["provisional"][0])
    assert engine.calls == []


def test_a_busy_engine_drops_the_pass_instead_of_waiting(sent: dict, engine: FakeEngine) -> None:
    """Bug: a draft holding a worker thread while it waits for the engine (another video's
    committed window, a whole-file job), so committed work finds no free thread."""
    import threading

    from recordplus.transcriber.engines import engine_turn

    recording = Recording()
    for _ in range(7):
        recording.grow(1.0)
    done = threading.Event()
    with engine_turn():  # the engine is busy with something else
        worker = threading.Thread(target=lambda: (transcriber_live.transcribe_provisional(*sent["provisional"][0]), done.set()))
        worker.start()
        assert done.wait(60), "the pass waited for the engine"
    worker.join()
    assert engine.calls == []
    assert recording.row().provisional_lease_expires_at is None


def test_setting_zero_disables_provisional_text(sent: dict, engine: FakeEngine, settings) -> None:
    settings.LIVE_PROVISIONAL_SECONDS = 0
    recording = Recording()
    for _ in range(20):
        recording.grow(1.0)
    assert sent["provisional"] == []
    LiveTranscript.objects.filter(video=recording.video).update(provisional_mark=5)
    transcriber_live.transcribe_provisional(recording.video.pk, 5)  # a message sent before the change
    assert engine.calls == []
    assert live_snapshot(recording.video.pk).provisional == {"start": 0.0, "end": 20.0, "text": ""}


def test_a_vanished_piece_drops_the_attempt_quietly(sent: dict, engine: FakeEngine) -> None:
    recording = Recording()
    for _ in range(7):
        recording.grow(1.0)
    get_store().delete(recording.row().open_pieces[2][2])
    transcriber_live.transcribe_provisional(*sent["provisional"][0])
    assert engine.calls == []
    row = recording.row()
    assert row.status == "active" and row.provisional_text == "" and row.provisional_lease_expires_at is None


def test_an_engine_failure_fails_nothing(sent: dict, engine: FakeEngine) -> None:
    recording = Recording()
    for _ in range(7):
        recording.grow(1.0)

    def boom():
        raise RuntimeError("engine exploded")

    engine.before.append(boom)
    transcriber_live.transcribe_provisional(*sent["provisional"][0])  # does not raise
    row = recording.row()
    assert row.status == "active" and row.attempts == 1 and row.provisional_lease_expires_at is None
    assert Video.objects.get(pk=recording.video.pk).status == recording.video.status


def test_committed_windows_keep_the_full_decoding(sent: dict, engine: FakeEngine) -> None:
    """Bug: the cheap mode leaking into committed windows (worse final transcripts)."""
    from recordplus.assembler.live_audio import wav_bytes

    recording = Recording()
    recording.grow(3.0)
    recording.close(after=3.0)
    key = LiveWindow.objects.get(video=recording.video, index=0).audio_key
    get_store().write(key, io.BytesIO(wav_bytes(np.zeros(3 * RATE, dtype=np.int16))), content_type="audio/wav")
    transcriber_live.transcribe_window(recording.video.pk, 0)
    assert engine.calls == [{"seconds": 3.0, "draft": False}]
