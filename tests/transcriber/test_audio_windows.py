"""16 kHz WAV in windows cut at quiet points; audio extraction from real videos, bounded."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
import pytest

from recordplus.core.ffmpeg import FFmpegTimeout
from recordplus.transcriber.audio import SAMPLE_RATE, is_wav16k_mono, iter_windows, to_wav16k, wav_duration
from recordplus.transcriber.errors import AudioError, NoAudioStream
from tests.transcriber.fixtures import make_video, require_tools


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def test_it_covers_the_whole_file_exactly_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    samples = rng.uniform(-0.5, 0.5, SAMPLE_RATE * 95).astype(np.float32)
    path = _write_wav(tmp_path / "noise.wav", samples)
    windows = list(iter_windows(path, window_seconds=30, search_seconds=5))
    assert len(windows) == 4
    joined = np.concatenate([w.samples for w in windows])
    assert len(joined) == len(samples)
    assert np.allclose(joined, np.round(np.clip(samples, -1, 1) * 32767) / 32768, atol=1e-4)
    for previous, window in zip(windows, windows[1:]):
        assert window.offset == pytest.approx(previous.offset + previous.seconds)


def test_it_cuts_windows_in_silence(tmp_path: Path) -> None:
    # 40 s of tone with a 0.5 s gap at 27 s: the first cut lands in the gap, not at 30 s.
    t = np.arange(SAMPLE_RATE * 40) / SAMPLE_RATE
    samples = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    samples[int(27.0 * SAMPLE_RATE) : int(27.5 * SAMPLE_RATE)] = 0
    path = _write_wav(tmp_path / "tone.wav", samples)
    windows = list(iter_windows(path, window_seconds=30, search_seconds=5))
    assert 27.0 <= windows[1].offset <= 27.5


def test_it_yields_one_window_for_short_audio_and_none_for_empty(tmp_path: Path) -> None:
    short = _write_wav(tmp_path / "short.wav", np.zeros(SAMPLE_RATE * 3, np.float32))
    assert [w.seconds for w in iter_windows(short, 30)] == [3.0]
    empty = _write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32))
    assert list(iter_windows(empty, 30)) == []
    assert wav_duration(empty) == 0.0


def test_it_refuses_audio_that_is_not_16k_mono(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44100)
        wav.writeframes(b"\0" * 4000)
    assert not is_wav16k_mono(path)
    with pytest.raises(AudioError):
        list(iter_windows(path))
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(AudioError):
        wav_duration(tmp_path / "junk.wav")


def test_it_extracts_16k_mono_audio_from_a_video(tmp_path: Path, sentence_wav: Path) -> None:
    require_tools("ffmpeg")
    video = make_video(sentence_wav, tmp_path / "talk.webm")
    out = tmp_path / "audio.wav"
    to_wav16k(video, out)
    assert is_wav16k_mono(out)
    assert wav_duration(out) == pytest.approx(wav_duration(sentence_wav), abs=0.1)


def test_it_says_when_a_video_has_no_audio_track(tmp_path: Path) -> None:
    require_tools("ffmpeg")
    video = make_video(None, tmp_path / "silent.mp4", seconds=2)
    with pytest.raises(NoAudioStream):
        to_wav16k(video, tmp_path / "audio.wav")


def test_it_reports_undecodable_media(tmp_path: Path) -> None:
    require_tools("ffmpeg")
    junk = tmp_path / "junk.webm"
    junk.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 100)
    with pytest.raises(AudioError, match="ffmpeg could not decode"):
        to_wav16k(junk, tmp_path / "audio.wav")


def _fake_ffmpeg(tmp_path: Path, script: str) -> Path:
    """An executable standing in for ffmpeg, to see how it is run."""
    path = tmp_path / "ffmpeg"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


def test_it_runs_ffmpeg_under_the_memory_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The stand-in reports its address-space limit (in KiB) on stderr and fails like ffmpeg.
    monkeypatch.setenv("FFMPEG_BINARY", str(_fake_ffmpeg(tmp_path, "echo \"limit $(ulimit -v)\" >&2; exit 1")))
    monkeypatch.setenv("FFMPEG_MEMORY_LIMIT_MB", "512")
    with pytest.raises(AudioError, match=f"limit {512 * 1024}$"):
        to_wav16k(tmp_path / "in.webm", tmp_path / "audio.wav")


def test_it_stops_ffmpeg_at_the_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_BINARY", str(_fake_ffmpeg(tmp_path, "sleep 60")))
    monkeypatch.setenv("FFMPEG_TIMEOUT_SECONDS", "1")
    started = time.monotonic()
    with pytest.raises(FFmpegTimeout) as raised:
        to_wav16k(tmp_path / "in.webm", tmp_path / "audio.wav")
    assert time.monotonic() - started < 10
    assert raised.value.reason == "ffmpeg_timeout"
