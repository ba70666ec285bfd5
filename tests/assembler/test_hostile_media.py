"""Hostile media is refused with a reason, and every ffmpeg output stays bounded (issue 10 items 1, 4).

Bombs made here with ffmpeg: a 74 KB Matroska of H.264 + 1 Hz PCM "lasting" 10 hours (it
used to end `ready` with a 1.15 GB audio.wav), a 1 Hz FLAC track "lasting" 1000 hours (1.83 GB
written in 30 s), a track whose container claims 2 s while 60 s of sound follow (only the
`-t`/`-fs` caps can stop it), and 20 s of static 4K 10-bit H.264 (a CPU bomb). Checked: the
refusal and its words, and the bytes written to storage and to the scratch folder.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from recordplus.assembler.media import make_playable
from recordplus.assembler.probe import probe
from recordplus.assembler.renditions import extract_audio, make_rendition, rendition_time_limit, plan_rendition
from recordplus.core.errors import MediaBeyondLimits
from recordplus.core.ffmpeg import Limits
from recordplus.core.media_limits import MediaClaims, refuse_absurd, time_limit
from recordplus.core.storage.filesystem import FileStore
from recordplus.transcriber.audio import to_wav16k
from tests.conftest import Stack
from tests.support import ffmpeg, stored_keys, video_public_id

PUBLIC_ID = "bomb01"
SOURCE = f"videos/{PUBLIC_ID}/source.bin"
HOURS = 3600


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True, timeout=120)


def _tiny_picture() -> list[str]:
    return ["-f", "lavfi", "-i", "color=black:size=64x64:rate=5:duration=2"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def pcm_bomb(folder: Path) -> Path:
    """H.264 + 1 Hz PCM claiming 10 hours, in about 74 KB."""
    path = folder / "pcm-1hz.mkv"
    _ffmpeg(*_tiny_picture(), "-f", "lavfi", "-i", "anullsrc=r=1:cl=mono", "-t", str(10 * HOURS),
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "pcm_s16le", "-f", "matroska", str(path))
    return path


@pytest.fixture(scope="module")
def flac_bomb(folder: Path) -> Path:
    """H.264 + 1 Hz FLAC claiming 1000 hours, in about 700 KB."""
    path = folder / "flac-1hz.mkv"
    _ffmpeg(*_tiny_picture(), "-f", "lavfi", "-i", "anullsrc=r=1:cl=mono", "-t", str(1000 * HOURS),
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac", "-f", "matroska", str(path))
    return path


@pytest.fixture(scope="module")
def long_tone(folder: Path) -> Path:
    """60 s of 16 kHz sound, whose probe the test replaces with one claiming 2 s (a lying header)."""
    path = folder / "tone.mkv"
    _ffmpeg(*_tiny_picture(), "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=16000:duration=60",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "pcm_s16le", "-f", "matroska", str(path))
    return path


@pytest.fixture(scope="module")
def static_4k(folder: Path) -> Path:
    """20 s of static 4K 10-bit H.264 (5 frames a second keeps making it quick)."""
    path = folder / "static-4k-10bit.mp4"
    _ffmpeg("-f", "lavfi", "-i", "color=gray:size=3840x2160:rate=5:duration=20", "-c:v", "libx264",
            "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-f", "mp4", str(path))
    return path


def _bytes_under(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _playable(source: Path, tmp_path: Path) -> tuple[FileStore, Path]:
    store = FileStore(tmp_path / "media")
    target = store.path(SOURCE)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return store, tmp_path / "work"


@pytest.mark.parametrize(("sample", "claim"), [("pcm_bomb", "10 h 0 min"), ("flac_bomb", "1000 h 0 min")])
def test_it_refuses_a_1hz_audio_bomb_before_decoding(sample: str, claim: str, request: pytest.FixtureRequest,
                                                     tmp_path: Path) -> None:
    source: Path = request.getfixturevalue(sample)
    store, work = _playable(source, tmp_path)
    with pytest.raises(MediaBeyondLimits) as refused:
        make_playable(store=store, public_id=PUBLIC_ID, workdir=work)
    assert f"The audio track claims {claim} at 1 Hz" in str(refused.value)
    assert refused.value.reason == "limits"
    # Nothing but the upload was stored; the scratch folder holds the copy and no decode.
    assert _bytes_under(store.root) == source.stat().st_size
    assert _bytes_under(work) <= source.stat().st_size


@pytest.mark.parametrize("sample", ["pcm_bomb", "flac_bomb"])
def test_it_refuses_the_bombs_in_the_assemblers_audio_extraction(sample: str, request: pytest.FixtureRequest,
                                                                 tmp_path: Path) -> None:
    source: Path = request.getfixturevalue(sample)
    with pytest.raises(MediaBeyondLimits, match="at 1 Hz"):
        extract_audio(source, tmp_path / "audio.wav")
    assert not (tmp_path / "audio.wav").exists()


@pytest.mark.parametrize("sample", ["pcm_bomb", "flac_bomb"])
def test_it_refuses_the_bombs_in_the_transcribers_to_wav16k(sample: str, request: pytest.FixtureRequest,
                                                            tmp_path: Path) -> None:
    source: Path = request.getfixturevalue(sample)
    with pytest.raises(MediaBeyondLimits, match="at 1 Hz"):
        to_wav16k(source, tmp_path / "audio16k.wav")
    assert not (tmp_path / "audio16k.wav").exists()


def test_it_stops_audio_that_runs_past_its_claimed_duration(long_tone: Path, tmp_path: Path) -> None:
    # The header lies (2 s); only -t / -fs stop the decode: at 2 s + margin, not at 60 s.
    lying = dataclasses.replace(probe(long_tone), duration=2.0)
    output = tmp_path / "audio.wav"
    with pytest.raises(MediaBeyondLimits, match="decodes to more than"):
        extract_audio(long_tone, output, facts=lying)
    assert not output.exists()


def test_it_fails_the_bomb_through_the_api_with_the_reason(embedded_stack: Stack, pcm_bomb: Path) -> None:
    with embedded_stack.client() as client:
        created = client.post("/api/record/videos/", data={"title": "bomb"},
                              files={"video_file": ("bomb.mkv", pcm_bomb.read_bytes())})
        video_id = created.json()["video_id"]
        assert client.post(f"/api/record/videos/{video_id}/finalize_video_upload/").status_code == 200
    video = embedded_stack.wait_for(video_id)
    assert video["status"] == "failed", video
    assert "The audio track claims 10 h 0 min at 1 Hz" in video["error"], video["error"]
    # No audio.wav, no rendition: the video's folder holds at most the stitched upload.
    # (Only this video's keys: the embedded stack is shared with other tests' ready videos.)
    keys = stored_keys(embedded_stack, f"videos/{video_public_id(embedded_stack, video_id)}/")
    assert [key for key in keys if key.endswith((".wav", ".mp4"))] == [], keys


def test_it_refuses_absurd_parameters_with_a_reason() -> None:
    base = MediaClaims(size=50 << 20, duration=60.0, width=1920, height=1080, frame_rate=30.0,
                       sample_rate=48_000, channels=2, has_video=True, has_audio=True)
    refuse_absurd(base, max_seconds=4 * HOURS)  # an ordinary recording passes
    cases = {
        "sampled at": dataclasses.replace(base, sample_rate=1_000_000, duration=None),
        "1000 frames per second": dataclasses.replace(base, frame_rate=1000.0),
        "16384×1080": dataclasses.replace(base, width=16384),
        "8000×8000": dataclasses.replace(base, width=8000, height=8000),
        "up to 4 h 0 min (MAX_VIDEO_SECONDS)": dataclasses.replace(base, duration=5 * HOURS, size=10 << 30),
        "far too few for that long": dataclasses.replace(base, duration=2 * HOURS, size=100_000),
    }
    for words, claims in cases.items():
        with pytest.raises(MediaBeyondLimits, match=words.replace("(", r"\(").replace(")", r"\)")):
            refuse_absurd(claims, max_seconds=4 * HOURS)


def test_it_derives_a_small_time_limit_for_static_4k() -> None:
    # 20 s of 4K at 30 frames a second, 36 KB: far below the hour FFMPEG_TIMEOUT_SECONDS allows.
    claims = MediaClaims(size=36_000, duration=20.0, width=3840, height=2160, frame_rate=30.0, has_video=True)
    limit = time_limit("transcode", claims, cap=3600, max_seconds=4 * HOURS)
    assert limit <= 700
    assert time_limit("transcode", dataclasses.replace(claims, duration=2.0), cap=3600, max_seconds=4 * HOURS) < limit
    assert time_limit("copy", claims, cap=3600, max_seconds=4 * HOURS) <= 60
    # Never above the setting, whatever the media.
    assert time_limit("transcode", dataclasses.replace(claims, duration=4 * HOURS), cap=3600, max_seconds=4 * HOURS) == 3600


def test_it_refuses_a_4k_transcode_beyond_the_time_budget(static_4k: Path, tmp_path: Path) -> None:
    facts = probe(static_4k)
    assert (facts.width, facts.height, facts.pix_fmt) == (3840, 2160, "yuv420p10le")
    limits = dataclasses.replace(Limits.from_env(), timeout_seconds=20)
    with pytest.raises(MediaBeyondLimits) as refused:
        make_rendition(static_4k, facts, tmp_path, limits=limits)
    reason = str(refused.value)
    assert "20 s of 3840×2160 video at 5 frames per second" in reason, reason
    assert "more than the 20 s this server allows one conversion (FFMPEG_TIMEOUT_SECONDS)" in reason, reason
    assert list(tmp_path.iterdir()) == []  # refused before ffmpeg wrote anything
    # With the default hour, the transcode is allowed, but only for a time derived from the media.
    default = Limits.from_env()
    assert rendition_time_limit(plan_rendition(facts), facts, default) < 300 < default.timeout_seconds
