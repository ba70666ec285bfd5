"""Each container's /metrics shows its part of the recording's job."""

from __future__ import annotations

from tests.containers.conftest import Recording
from tests.containers.support import metric


def moved(recording: Recording, service: str, name: str, **labels: str) -> float:
    return metric(recording.after[service], name, **labels) - metric(recording.before[service], name, **labels)


def test_it_counts_the_upload_on_the_apis_metrics(recording: Recording) -> None:
    assert moved(recording, "api", "recordplus_upload_bytes_total") == len(recording.data)
    assert moved(recording, "api", "recordplus_upload_chunks_total") == recording.chunks
    assert moved(recording, "api", "recordplus_http_requests_total", method="PATCH", status="200") == recording.chunks
    assert metric(recording.after["api"], "recordplus_queue_backlog_jobs", queue="assemble") == 0


def test_it_counts_the_assembly_on_the_assemblers_metrics(recording: Recording) -> None:
    assert moved(recording, "assembler", "recordplus_jobs_started_total", queue="assemble") >= 1
    assert moved(recording, "assembler", "recordplus_jobs_finished_total", queue="assemble", outcome="done") >= 1
    assert moved(recording, "assembler", "recordplus_assembly_duration_seconds_count") >= 1
    assert moved(recording, "assembler", "recordplus_assembled_bytes_total") >= len(recording.data)
    assert metric(recording.after["assembler"], "recordplus_jobs_running", queue="assemble") == 0


def test_it_counts_the_transcription_on_the_transcribers_metrics(recording: Recording) -> None:
    labels = {"engine": "faster-whisper", "model": "tiny.en"}
    assert moved(recording, "transcriber", "recordplus_jobs_finished_total", queue="transcribe", outcome="done") >= 1
    assert moved(recording, "transcriber", "recordplus_transcribed_audio_seconds_total", **labels) >= 10
    assert moved(recording, "transcriber", "recordplus_transcription_wall_seconds_total", **labels) > 0
    assert metric(recording.after["transcriber"], "recordplus_jobs_running", queue="transcribe") == 0
