"""A real recording goes create → chunks → finalize → ready → transcript done through the
three containers, and plays back with Range from S3."""

from __future__ import annotations

import httpx
import pytest

from tests.containers.conftest import Cluster, Recording
from tests.transcriber.fixtures import SENTENCES, word_error_rate

MAX_WER = 0.35


def test_it_assembles_the_recording_into_a_ready_video(recording: Recording) -> None:
    detail = recording.detail
    assert detail["status"] == "ready", detail
    assert detail["duration"] == pytest.approx(15, abs=6), detail
    assert detail["has_audio"] is True, detail


def test_it_transcribes_the_speech_on_the_cpu_image(cluster: Cluster, recording: Recording) -> None:
    transcription = recording.detail.get("transcription") or {}
    assert transcription.get("status") == "done", recording.detail
    assert word_error_rate(" ".join(SENTENCES), transcription["text"]) <= MAX_WER, transcription["text"]
    headers = {"Authorization": f"Bearer {recording.token}"}
    with httpx.Client(base_url=cluster.api.url("http"), headers=headers, timeout=60, follow_redirects=True) as client:
        transcript = client.get(f"/api/record/videos/{recording.video_id}/transcript").json()
        vtt = client.get(f"/api/record/videos/{recording.video_id}/transcript?format=vtt")
    # The chart's engine "auto" on the CPU image: faster-whisper with the baked tiny.en.
    assert transcript["engine"] == "faster-whisper" and transcript["model"] == "tiny.en", transcript
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT"), vtt.text[:200]


def test_it_streams_the_video_from_s3_with_range(cluster: Cluster, recording: Recording) -> None:
    headers = {"Authorization": f"Bearer {recording.token}", "Range": "bytes=0-1023"}
    with httpx.Client(base_url=cluster.api.url("http"), timeout=60, follow_redirects=True) as client:
        response = client.get(f"/api/record/videos/{recording.video_id}/stream_video/", headers=headers)
    # The chart's streamMode is redirect: a presigned URL to the bucket, never bytes through the API.
    assert [r.status_code for r in response.history] in ([302], [307]), response.history
    assert response.status_code == 206, response.text[:300]
    assert len(response.content) == 1024
    assert response.content[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM
