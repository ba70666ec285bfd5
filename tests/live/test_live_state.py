"""The live path's bookkeeping against the test database, with the real decoder and store.

Bugs it catches: windows that leave holes or overlap in the recording's time, a decode step
redone after a crash closing different windows (or doubling one), the last window never
closed when the client declares its last chunk, a window whose workers keep dying retried
forever instead of handing the video to the whole-file transcription, the reconciler
forgetting live work after a restart, the KEDA backlog not counting live windows.
"""

from __future__ import annotations

import io
import itertools
import wave
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from recordplus.assembler import live_decode
from recordplus.core import messaging
from recordplus.core.storage import get_store
from recordplus.transcripts import live_services
from recordplus.transcripts.models import LiveTranscript, LiveWindow, Transcript
from recordplus.videos import services as video_services
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Messages the services would send: decode, window and transcribe requests."""
    out: dict[str, list] = {"decode": [], "window": [], "transcribe": []}
    monkeypatch.setattr(messaging, "send_live_decode", lambda video_id, **_: out["decode"].append(video_id))
    monkeypatch.setattr(messaging, "send_live_window", lambda video_id, index, **_: out["window"].append((video_id, index)))
    monkeypatch.setattr(messaging, "send_transcribe", lambda video_id, **_: out["transcribe"].append(video_id))
    monkeypatch.setattr(messaging, "send_assemble", lambda video_id, **_: None)
    return out


def pieces_of(path: Path, count: int = 25) -> list[bytes]:
    data = path.read_bytes()
    size = len(data) // count + 1
    return [data[i : i + size] for i in range(0, len(data), size)]


def upload_live(pieces: list[bytes], *, decode_every: int = 1, until: int | None = None) -> Video:
    """Store `pieces` with chunk_index (the last with last=true), running the decoder as the
    chunk hook would, after every `decode_every` chunks."""
    video = Video.objects.create(title="live")
    stop = len(pieces) if until is None else until
    for index, piece in enumerate(pieces[:stop]):
        video_services.chunk_store(
            video=video, data=io.BytesIO(piece), chunk_index=index, last=index == len(pieces) - 1
        )
        if (index + 1) % decode_every == 0 or index == stop - 1:
            live_decode.live_decode(video.pk)
    return video


def window_spans(video: Video) -> list[tuple[int, float, float]]:
    return list(LiveWindow.objects.filter(video=video).order_by("index").values_list("index", "start", "end"))


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as wav:
        return wav.getnframes() / wav.getframerate()


def test_it_cuts_the_whole_recording_into_adjacent_windows(live_webm: Path, sent: dict) -> None:
    video = upload_live(pieces_of(live_webm))
    live = LiveTranscript.objects.get(video=video)
    assert live.status == "ended"  # the declared last chunk closed the last window
    spans = window_spans(video)
    assert [i for i, _, _ in spans] == list(range(len(spans))) and len(spans) >= 1
    assert spans[0][1] == 0.0
    for (_, _, end), (_, start, _) in itertools.pairwise(spans):
        assert start == end  # no hole, no overlap
    assert spans[-1][2] == pytest.approx(live.decoded_samples / 16000)
    store = get_store()
    for window in LiveWindow.objects.filter(video=video):
        assert wav_seconds(store.read_bytes(window.audio_key)) == pytest.approx(window.end - window.start, abs=1e-3)
    assert sorted(sent["window"]) == [(video.pk, i) for i, _, _ in spans]
    # Only what was left open is stored besides the windows: nothing once ended.
    assert live.open_pieces == []


def test_a_step_redone_after_a_crash_closes_the_same_windows(
    long_speech: Path, live_media: Path, sent: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.live.media import webm_of

    pieces = pieces_of(webm_of(long_speech, live_media / "long-live.webm"), 30)
    calm = upload_live(pieces)
    real = live_services.live_record_step
    crashes = {"left": 3}

    def crashing(**kwargs):
        # Killed after the step's audio was stored, before its row was written.
        if kwargs["windows"] and crashes["left"]:
            crashes["left"] -= 1
            raise ConnectionError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(live_services, "live_record_step", crashing)
    video = Video.objects.create(title="crashy")
    for index, piece in enumerate(pieces):
        video_services.chunk_store(video=video, data=io.BytesIO(piece), chunk_index=index, last=index == len(pieces) - 1)
        for _ in range(4):  # the redelivered message
            try:
                live_decode.live_decode(video.pk)
                break
            except ConnectionError:
                continue
    assert crashes["left"] == 0
    assert [(s, e) for _, s, e in window_spans(video)] == [(s, e) for _, s, e in window_spans(calm)]
    assert len(window_spans(video)) >= 2


def test_a_window_whose_workers_keep_dying_hands_over_to_the_whole_file(live_webm: Path, sent: dict, settings) -> None:
    video = upload_live(pieces_of(live_webm))
    Transcript.objects.create(video=video)  # requested at ready, waiting
    for attempt in range(1, settings.LIVE_MAX_ATTEMPTS + 1):
        window = live_services.live_window_claim(video_id=video.pk, index=0)
        assert window is not None and window.attempts == attempt
        assert live_services.live_window_claim(video_id=video.pk, index=0) is None  # the lease holds
        LiveWindow.objects.filter(pk=window.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert live_services.live_window_claim(video_id=video.pk, index=0) is None
    assert LiveWindow.objects.get(video=video, index=0).status == "failed"
    assert LiveTranscript.objects.get(video=video).status == "abandoned"
    assert sent["transcribe"] == [video.pk]


def test_the_reconciler_resumes_live_work_after_a_restart(live_webm: Path, sent: dict) -> None:
    pieces = pieces_of(live_webm)
    video = upload_live(pieces, until=len(pieces) - 3)  # still uploading
    live = LiveTranscript.objects.get(video=video)
    assert live.status == "active"
    LiveTranscript.objects.filter(pk=live.pk).update(lease_expires_at=timezone.now() + timedelta(hours=1))
    claimed = live_services.live_window_claim(video_id=video.pk, index=0) if window_spans(video) else None
    sent["decode"].clear()
    sent["window"].clear()
    touched = live_services.live_reconcile(stale_seconds=None)  # embedded start-up: nothing is held
    assert touched == [video.pk]
    assert sent["decode"] == [video.pk]
    assert sorted(sent["window"]) == [(video.pk, i) for i, _, _ in window_spans(video)]
    assert LiveTranscript.objects.get(pk=live.pk).lease_expires_at is None
    if claimed is not None:
        assert LiveWindow.objects.get(pk=claimed.pk).status == "pending"


def test_the_backlog_counts_live_windows(live_webm: Path, sent: dict) -> None:
    from prometheus_client import CollectorRegistry
    from recordplus.config.backlog import BacklogCollector

    video = upload_live(pieces_of(live_webm))
    pending = LiveWindow.objects.filter(video=video).count()
    registry = CollectorRegistry()
    registry.register(BacklogCollector())
    waiting = registry.get_sample_value("recordplus_queue_backlog_jobs", {"queue": "transcribe", "state": "waiting"})
    assert waiting == pending
    audio = registry.get_sample_value("recordplus_transcription_backlog_audio_seconds")
    assert audio == pytest.approx(sum(e - s for _, s, e in window_spans(video)))
