"""The subprocess runner: no shell, a time limit, a memory limit, and stderr's tail kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from recordplus.core.ffmpeg import (
    FFmpegError,
    FFmpegNotFound,
    FFmpegTimeout,
    Limits,
    ProgressParser,
    ffmpeg,
    run,
)


def test_it_passes_arguments_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = run(["echo", f"a; touch {marker}"], timeout_seconds=10, memory_limit_mb=0)
    assert result.stdout.decode().strip() == f"a; touch {marker}"
    assert not marker.exists()


def test_it_applies_the_address_space_limit() -> None:
    code = "import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])"
    result = run([sys.executable, "-c", code], timeout_seconds=30, memory_limit_mb=512)
    assert int(result.stdout) == 512 * 1024 * 1024


def test_it_fails_when_the_process_needs_more_memory_than_allowed() -> None:
    code = "b = bytearray(300 * 1024 * 1024); print(len(b))"
    with pytest.raises(FFmpegError) as caught:
        run([sys.executable, "-c", code], timeout_seconds=30, memory_limit_mb=128)
    assert "MemoryError" in caught.value.stderr_tail


def test_it_kills_a_process_past_its_time_limit(media_dir: Path) -> None:
    # An endless source: only the time limit can stop it.
    limits = Limits(ffmpeg="ffmpeg", ffprobe="ffprobe", timeout_seconds=1, memory_limit_mb=2048)
    with pytest.raises(FFmpegTimeout) as caught:
        ffmpeg(["-re", "-f", "lavfi", "-i", "testsrc2", "-f", "null", "-"], limits=limits)
    assert "took longer than 1 s" in str(caught.value)


def test_it_keeps_the_tail_of_stderr(tmp_path: Path, media_dir: Path) -> None:
    with pytest.raises(FFmpegError) as caught:
        ffmpeg(["-i", str(tmp_path / "missing.webm"), "-f", "null", "-"])
    assert caught.value.returncode not in (0, None)
    assert "No such file or directory" in caught.value.stderr_tail


def test_it_reports_a_missing_binary() -> None:
    limits = Limits(ffmpeg="/nonexistent/ffmpeg", ffprobe="ffprobe", timeout_seconds=5, memory_limit_mb=0)
    with pytest.raises(FFmpegNotFound):
        ffmpeg(["-version"], limits=limits)


def test_it_reports_progress_against_the_duration(tmp_path: Path, media_dir: Path) -> None:
    seen: list[float] = []
    ffmpeg(
        ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-c:v", "mpeg4",
         str(tmp_path / "out.avi")],
        progress=seen.append,
        duration=3.0,
    )
    assert seen[-1] == 1.0
    assert seen == sorted(seen)


def test_it_turns_progress_lines_into_fractions() -> None:
    seen: list[float] = []
    parser = ProgressParser(seen.append, duration=10.0)
    for line in ["frame=1", "out_time_us=2500000", "out_time_us=N/A", "out_time_us=5000000", "progress=continue"]:
        parser(line)
    assert seen == [0.25, 0.5]


def test_it_falls_back_to_output_size_without_a_duration() -> None:
    seen: list[float] = []
    parser = ProgressParser(seen.append, duration=None, expected_size=1000)
    for line in ["out_time_us=9000000", "total_size=250", "total_size=2000", "progress=end"]:
        parser(line)
    assert seen == [0.25, 1.0, 1.0]
