"""The live decoder's audio: libavcodec in this process (PyAV) gives the samples the ffmpeg
command line gives, on the same 16 kHz grid, without starting a process per step.

Bugs it catches: a decode step that starts an ffmpeg again (85 ms of CPU a step: most of the
live path's cost over the whole-file path), a decimation phase counted from the start of the
decoded audio (libavcodec versions drop different amounts of Opus pre-skip, so the grid moves
by a third of a sample and high frequencies come out 14 % off), PyAV's own resampler (the same
14 %), a stereo track not mixed down, a track at 44.1 kHz decimated as if it were at 48 kHz.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from recordplus.assembler import live_audio
from recordplus.assembler.live_webm import LiveStreamError, WebmCursor, WebmReader

from tests.live.media import whole_pcm
from tests.live.test_live_audio import best_lag, live_timeline


def timeline(data: bytes, pieces: int, workdir: Path) -> np.ndarray:
    """The PCM the live decoder builds from `data` received in `pieces` equal pieces."""
    step = max(len(data) // pieces, 1)
    return live_timeline(data, list(range(step, len(data), step)), workdir)


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    n = min(len(got), len(want))
    got, want = got[:n].astype(np.float64), want[:n].astype(np.float64)
    return float(np.sqrt(np.mean((got - want) ** 2)) / max(np.sqrt(np.mean(want**2)), 1.0))


def error_against_whole(got: np.ndarray, path: Path) -> float:
    """The live timeline against the whole-file decode, lined up (the whole file's first
    sample is after the pre-skip, the timeline's at time 0: a few ms apart)."""
    lag, error = best_lag(got, np.frombuffer(whole_pcm(path), dtype="<i2"), span=160)
    assert abs(lag) <= 160, lag
    return error


def encoded(wav: Path, path: Path, *args: str) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10",
         "-i", str(wav), "-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libvpx", "-deadline", "realtime",
         "-cpu-used", "8", "-b:v", "100k", *args, "-live", "1", "-cluster_time_limit", "1000", "-f", "webm", str(path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def stereo_webm(live_media: Path, short_speech: Path) -> Path:
    """Opus in stereo (Chromium records stereo from most sources): the left channel speaks, the
    right one is silent, so a channel dropped instead of mixed shows up as a level off by 2."""
    return encoded(short_speech, live_media / "stereo.webm", "-af", "pan=stereo|c0=c0|c1=0*c0", "-c:a", "libopus", "-b:a", "64k")


@pytest.fixture(scope="module")
def vorbis_webm(live_media: Path, short_speech: Path) -> Path:
    return encoded(short_speech, live_media / "vorbis-44k.webm", "-ar", "44100", "-c:a", "libvorbis")


def test_in_process_decoding_gives_the_command_lines_samples(live_webm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = live_webm.read_bytes()
    assert live_audio.decodes_in_process()
    ours = timeline(data, 25, tmp_path)
    monkeypatch.setattr(live_audio, "decodes_in_process", lambda: False)
    theirs = timeline(data, 25, tmp_path)
    assert len(ours) == len(theirs)
    # 0.2 % measured (two low-pass filters differ near 8 kHz); a grid off by a third of a
    # 48 kHz sample is 14 %, PyAV's resampler 14 %.
    assert relative_error(ours, theirs) < 0.01
    assert error_against_whole(ours, live_webm) < 0.01


def test_in_process_decoding_starts_no_process(live_webm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_ffmpeg(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("a decode step started ffmpeg")

    monkeypatch.setattr(live_audio, "ffmpeg_stdout", no_ffmpeg)
    pcm = timeline(live_webm.read_bytes(), 25, tmp_path)
    assert len(pcm) > 20 * live_audio.SAMPLE_RATE and np.abs(pcm).max() > 1000


def test_a_stereo_track_is_mixed_down_like_the_command_line_does(stereo_webm: Path, tmp_path: Path) -> None:
    ours = timeline(stereo_webm.read_bytes(), 25, tmp_path)
    whole = np.frombuffer(whole_pcm(stereo_webm), dtype="<i2")
    assert abs(len(ours) - len(whole)) <= 0.03 * live_audio.SAMPLE_RATE
    assert error_against_whole(ours, stereo_webm) < 0.02


def test_a_track_not_at_48_khz_is_left_to_the_command_line(vorbis_webm: Path) -> None:
    assert live_audio._decode_with_pyav(vorbis_webm.read_bytes(), max_samples=10**8) is None


def test_vorbis_is_not_followed_live(vorbis_webm: Path, tmp_path: Path) -> None:
    """Vorbis decoded in steps from a few priming packets is not the recording's audio (1.09
    relative error against the whole file, measured): the whole file is transcribed instead."""
    with pytest.raises(LiveStreamError, match="A_VORBIS"):
        WebmReader(WebmCursor()).walk(vorbis_webm.read_bytes(), at_end=True)


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5, 157, 158, 1000, 48_001, 48_002])
def test_every_third_output_of_the_filter_is_the_full_convolutions(length: int) -> None:
    x = np.random.default_rng(length).standard_normal(length).astype(np.float32)
    kernel = live_audio._lowpass()
    delay = (len(kernel) - 1) // 2
    first = delay + length % 3
    want = np.convolve(x, kernel)[first : delay + length : 3] if length else np.zeros(0)
    got = live_audio._every_third(x, kernel, first, len(range(first, delay + length, 3)))
    assert len(got) == len(want) and np.allclose(got, want, atol=1e-5)


def test_the_grid_is_counted_back_from_the_end() -> None:
    """A 1 kHz tone decoded with 0, 1 or 2 extra samples at the front lands on the same 16 kHz
    samples: the front is what decoders disagree about, the end is the block's end."""
    t = np.arange(48_000 * 2) / 48_000
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32) * 0.5
    ends = [live_audio._downsample(np.concatenate([np.zeros(extra, np.float32), tone]), 32768.0)[-16_000:] for extra in (0, 1, 2)]
    assert all(np.abs(ends[0].astype(int) - e.astype(int)).max() <= 1 for e in ends[1:])
