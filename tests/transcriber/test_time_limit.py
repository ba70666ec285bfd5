"""A transcription that outlives TRANSCRIBE_TIME_LIMIT is interrupted by Dramatiq, retried, and
finally failed with a readable reason: never left `running`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Stack, make_embedded_stack
from tests.support import fetch, upload
from tests.transcriber.fixtures import concat_wavs, make_video


@pytest.fixture(scope="module")
def slow_stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    stack = make_embedded_stack(
        tmp_path_factory.mktemp("time-limit"),
        TRANSCRIBE_TIME_LIMIT="10",
        TRANSCRIBE_MAX_ATTEMPTS="2",
        TRANSCRIBE_ENGINE="faster-whisper",
        WHISPER_THREADS="1",
    )
    yield stack
    stack.stop()


def test_it_fails_a_job_that_keeps_hitting_the_time_limit(
    slow_stack: Stack, speech_wav: Path, tmp_path: Path
) -> None:
    # About 8 minutes of speech: far more than tiny.en transcribes in 10 s on one thread.
    long_audio = concat_wavs([speech_wav] * 30, tmp_path / "long.wav", gap=0.5)
    video = make_video(long_audio, tmp_path / "long.mp4", size="64x64", rate=2).read_bytes()
    video_id = upload(slow_stack, video, chunk_sizes=[4 * 1024 * 1024] * (len(video) // (4 * 1024 * 1024) + 1))
    assert slow_stack.wait_for(video_id, timeout=300)["status"] == "ready"
    deadline = time.monotonic() + 240
    seen: set[str] = set()
    transcript: dict = {}
    while time.monotonic() < deadline:
        transcript = fetch(slow_stack, f"/api/record/videos/{video_id}/transcript").json()
        seen.add(transcript["status"])
        if transcript["status"] == "failed":
            break
        time.sleep(0.5)
    assert transcript["status"] == "failed", f"{transcript}\n{slow_stack.logs()}"
    assert "TRANSCRIBE_TIME_LIMIT" in transcript["error"] and "after 2 attempts" in transcript["error"]
    assert transcript["attempts"] == 2
    assert "running" in seen
