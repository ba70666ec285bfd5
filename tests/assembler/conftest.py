"""Fixtures for the assembler's tests: sample media made once per session with the real ffmpeg.

Each sample is a file the way a real client produces it: an MP4 with its `moov` box at the end
(ffmpeg's default, like many cameras), an AVI with MPEG-4 part 2 video and MP3 audio, a WebM
without audio, a MediaRecorder-like live WebM (no duration, no cues, clusters of unknown size),
random bytes, and an MP4 cut off before its `moov` box.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.needs import require

SECONDS = 4.0
WIDTH, HEIGHT = 320, 240
FPS = 25


def require_ffmpeg() -> None:
    """Fail under CI (a missing tool must not pass by skipping), skip elsewhere."""
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    require(not missing, f"{', '.join(missing)} not installed (apt-get install -y ffmpeg)")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def _picture(seconds: float = SECONDS, *, black_lead: float = 0.0) -> list[str]:
    """lavfi input args: a moving test pattern, optionally after `black_lead` s of black."""
    pattern = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds - black_lead}"
    if black_lead <= 0:
        return ["-f", "lavfi", "-i", pattern]
    graph = (
        f"color=black:size={WIDTH}x{HEIGHT}:rate={FPS}:duration={black_lead}[black];"
        f"{pattern}[pattern];[black][pattern]concat=n=2:v=1:a=0"
    )
    return ["-f", "lavfi", "-i", graph]


def _tone(seconds: float = SECONDS) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]


def make_mp4_moov_at_end(path: Path) -> Path:
    """H.264/AAC MP4 with `moov` after `mdat`, starting with 1.5 s of black."""
    _ffmpeg(*_picture(black_lead=1.5), *_tone(), "-c:v", "libx264", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path))
    return path


def make_avi_mpeg4_mp3(path: Path) -> Path:
    """AVI with MPEG-4 part 2 video and MP3 audio (browsers play neither container nor codec)."""
    _ffmpeg(*_picture(), *_tone(), "-c:v", "mpeg4", "-q:v", "5", "-c:a", "libmp3lame", "-b:a", "64k",
            "-shortest", "-f", "avi", str(path))
    return path


def make_webm_without_audio(path: Path) -> Path:
    """An ordinary VP8 WebM with no audio track."""
    _ffmpeg(*_picture(), "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k", "-f", "webm", str(path))
    return path


def make_webm_live(path: Path, *, video_codec: str = "libvpx") -> Path:
    """A MediaRecorder-like WebM: VP8/VP9 + Opus written as a live stream (no duration, no cues)."""
    _ffmpeg(*_picture(), *_tone(), "-c:v", video_codec, "-deadline", "realtime", "-b:v", "300k",
            "-c:a", "libopus", "-shortest", "-live", "1", "-f", "webm", str(path))
    return path


def make_mkv_h264_opus(path: Path) -> Path:
    """Matroska with H.264 and Opus, as Chrome records with video/x-matroska;codecs=avc1."""
    _ffmpeg(*_picture(), *_tone(), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "libopus", "-shortest", "-f", "matroska", str(path))
    return path


def make_m4a_audio_only(path: Path) -> Path:
    """An MP4 container holding only AAC audio."""
    _ffmpeg(*_tone(), "-c:a", "aac", "-f", "mp4", str(path))
    return path


def make_garbage(path: Path, size: int = 256 * 1024) -> Path:
    """Random bytes (seeded, so every run sees the same bytes)."""
    path.write_bytes(random.Random(1234).randbytes(size))
    return path


def make_truncated_mp4(path: Path, source: Path) -> Path:
    """The first 60% of an MP4 whose `moov` is at the end: the index never arrived."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_ffmpeg()
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def mp4_moov_at_end(media_dir: Path) -> Path:
    return make_mp4_moov_at_end(media_dir / "moov-at-end.mp4")


@pytest.fixture(scope="session")
def avi_file(media_dir: Path) -> Path:
    return make_avi_mpeg4_mp3(media_dir / "camera.avi")


@pytest.fixture(scope="session")
def webm_no_audio(media_dir: Path) -> Path:
    return make_webm_without_audio(media_dir / "silent.webm")


@pytest.fixture(scope="session")
def webm_live(media_dir: Path) -> Path:
    return make_webm_live(media_dir / "mediarecorder.webm")


@pytest.fixture(scope="session")
def webm_live_vp9(media_dir: Path) -> Path:
    return make_webm_live(media_dir / "mediarecorder-vp9.webm", video_codec="libvpx-vp9")


@pytest.fixture(scope="session")
def mkv_h264(media_dir: Path) -> Path:
    return make_mkv_h264_opus(media_dir / "chrome-avc1.mkv")


@pytest.fixture(scope="session")
def m4a_file(media_dir: Path) -> Path:
    return make_m4a_audio_only(media_dir / "voice.m4a")


@pytest.fixture(scope="session")
def garbage_file(media_dir: Path) -> Path:
    return make_garbage(media_dir / "garbage.bin")


@pytest.fixture(scope="session")
def truncated_mp4(media_dir: Path, mp4_moov_at_end: Path) -> Path:
    return make_truncated_mp4(media_dir / "truncated.mp4", mp4_moov_at_end)
