"""A real video with English speech, uploaded through the API, comes out transcribed.

Embedded mode runs the light engine (faster-whisper) in-process; cluster mode runs the
WhisperX engine in a `recordplus worker` consuming RabbitMQ (see fixtures.cluster_worker_env:
the tiny alignment model's word times are meaningless, so for WhisperX the tests check the
structure of the times, and the text against the sentence).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Stack
from tests.support import fetch, upload
from tests.transcriber.fixtures import IN_CI, SENTENCES, make_video, whisperx_installed, word_error_rate
from tests.transcriber.test_captions import parse_srt, parse_vtt

MAX_WER = 0.35
SPEECH = " ".join(SENTENCES)


def wait_for_transcript(stack: Stack, video_id: int, token: str | None = None, timeout: float = 300) -> dict[str, Any]:
    """Poll the video detail until its transcription is done or failed."""
    deadline = time.monotonic() + timeout
    detail: dict[str, Any] = {}
    with stack.client(token) as client:
        while time.monotonic() < deadline:
            detail = client.get(f"/api/record/videos/{video_id}").json()
            transcription = detail.get("transcription") or {}
            if transcription.get("status") in ("done", "failed"):
                return detail
            stack.assert_alive()
            time.sleep(0.5)
    raise AssertionError(f"transcript of video {video_id} not finished: {detail}\n{stack.logs()}")


@pytest.fixture(scope="module")
def speech_video(tmp_path_factory: pytest.TempPathFactory, speech_wav: Path) -> bytes:
    return make_video(speech_wav, tmp_path_factory.mktemp("videos") / "speech.webm").read_bytes()


@pytest.fixture(scope="module")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_video(None, tmp_path_factory.mktemp("videos") / "silent.webm", seconds=3).read_bytes()


def metric_value(stack: Stack, name: str, **labels: str) -> float:
    """A sample from the process that transcribed: the worker in a cluster, the API embedded."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    url = (
        f"http://127.0.0.1:{stack.worker_metrics_port}/metrics" if stack.mode == "cluster" else f"{stack.url}/metrics"
    )
    text = httpx.get(url, timeout=30).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def expected_engine(stack: Stack) -> str:
    if stack.mode == "cluster" and (whisperx_installed() or IN_CI):
        return "whisperx"
    return "faster-whisper"


def test_it_transcribes_an_uploaded_video(stack: Stack, speech_video: bytes, speech_wav: Path) -> None:
    video_id = upload(stack, speech_video, chunk_sizes=[len(speech_video) // 3, len(speech_video) // 3, len(speech_video)])
    assert stack.wait_for(video_id)["status"] == "ready"
    detail = wait_for_transcript(stack, video_id)
    transcription = detail["transcription"]
    assert transcription["status"] == "done", transcription
    assert word_error_rate(SPEECH, transcription["text"]) <= MAX_WER, transcription["text"]

    response = fetch(stack, f"/api/record/videos/{video_id}/transcript")
    assert response.status_code == 200
    transcript = response.json()
    assert transcript["engine"] == expected_engine(stack)
    assert transcript["model"] == "tiny.en" and transcript["language"] == "en"
    assert transcript["audio_seconds"] == pytest.approx(detail["duration"], abs=0.5)
    assert transcript["wall_seconds"] > 0
    duration = transcript["audio_seconds"]
    for segment in transcript["segments"]:
        assert 0 <= segment["start"] <= segment["end"] <= duration + 0.05
        words = segment["words"]
        assert words
        for word in words:
            assert segment["start"] - 1e-3 <= word["start"] <= word["end"] <= segment["end"] + 1e-3
        assert [w["start"] for w in words] == sorted(w["start"] for w in words)

    vtt = fetch(stack, f"/api/record/videos/{video_id}/transcript?format=vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    srt = fetch(stack, f"/api/record/videos/{video_id}/transcript?format=srt")
    assert srt.status_code == 200
    txt = fetch(stack, f"/api/record/videos/{video_id}/transcript?format=txt")
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    assert word_error_rate(SPEECH, txt.text) <= MAX_WER

    vtt_cues, srt_cues = parse_vtt(vtt.text), parse_srt(srt.text)
    assert vtt_cues == srt_cues and vtt_cues
    for previous, cue in zip(vtt_cues, vtt_cues[1:]):
        assert cue[0] >= previous[1]
    assert all(0 <= start < end <= duration + 0.05 for start, end, _ in vtt_cues)
    assert word_error_rate(SPEECH, " ".join(text for _, _, text in vtt_cues)) <= MAX_WER
    if transcript["engine"] == "faster-whisper":
        # The cues cover the speech: espeak talks from 0 s to within a second of the end.
        assert vtt_cues[0][0] <= 1.0
        assert vtt_cues[-1][1] >= duration - 1.5

    # Metrics: audio seconds, wall seconds and speed per engine and model.
    labels = {"engine": transcript["engine"], "model": "tiny.en"}
    assert metric_value(stack, "recordplus_transcribed_audio_seconds_total", **labels) >= duration - 0.5
    assert metric_value(stack, "recordplus_transcription_wall_seconds_total", **labels) > 0
    assert metric_value(stack, "recordplus_transcription_speed_ratio", **labels) > 0

    # The same documents are stored next to the video.
    public_id = detail["public_id"]
    for fmt in ("json", "vtt", "srt", "txt"):
        key = f"videos/{public_id}/transcript.{fmt}"
        if stack.mode == "cluster":
            body = stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
        else:
            body = (stack.data_dir / "media" / key).read_bytes()
        if fmt == "vtt":
            assert body.decode() == vtt.text


def test_it_gives_a_silent_recording_an_empty_done_transcript(stack: Stack, silent_video: bytes) -> None:
    video_id = upload(stack, silent_video)
    ready = stack.wait_for(video_id)
    assert ready["status"] == "ready" and ready["has_audio"] is False
    transcription = wait_for_transcript(stack, video_id)["transcription"]
    assert transcription["status"] == "done"
    assert transcription["text"] == ""
    assert "no audio" in transcription["note"]
    vtt = fetch(stack, f"/api/record/videos/{video_id}/transcript?format=vtt")
    assert vtt.status_code == 200 and vtt.text.strip() == "WEBVTT"


def test_it_transcribes_again_on_request(stack: Stack, silent_video: bytes) -> None:
    video_id = upload(stack, silent_video)
    stack.wait_for(video_id)
    first = wait_for_transcript(stack, video_id)["transcription"]
    assert first["status"] == "done"
    with stack.client() as client:
        response = client.post(f"/api/record/videos/{video_id}/transcript")
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
    again = wait_for_transcript(stack, video_id)["transcription"]
    assert again["status"] == "done"
    transcript = fetch(stack, f"/api/record/videos/{video_id}/transcript").json()
    assert transcript["attempts"] == 1  # a fresh run, not a retry


def test_it_serves_the_transcript_under_the_v1_prefix_too(stack: Stack, silent_video: bytes) -> None:
    video_id = upload(stack, silent_video)
    stack.wait_for(video_id)
    wait_for_transcript(stack, video_id)
    response = fetch(stack, f"/api/v1/record/videos/{video_id}/transcript/?format=txt")
    assert response.status_code == 200
    assert re.fullmatch(r"\s*", response.text)
