"""What Prometheus, KEDA and the dashboards read, scraped from a running cluster-mode stack
(PostgreSQL, RabbitMQ, moto S3, a real worker) around a real chunked upload and assembly."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Stack
from tests.support import make_webm, split, uneven_sizes

pytestmark = pytest.mark.cluster

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page by (name, sorted labels)."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def scrape_until(url: str, done: object, attempts: int = 60) -> Samples:
    """Scrape until `done(samples)` holds: the worker marks the video ready a moment before it
    records the job's end in its metrics."""
    for _ in range(attempts):
        samples = scrape(url)
        if done(samples):  # type: ignore[operator]
            return samples
        time.sleep(0.5)
    return samples


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "metrics.webm", seconds=4, bitrate="1M").read_bytes()


def test_it_moves_the_api_and_worker_metrics_through_an_upload(cluster_stack: Stack, webm: bytes) -> None:
    stack = cluster_stack
    assert stack.worker_metrics_port
    api_metrics = f"{stack.url}/metrics"
    worker_metrics = f"http://127.0.0.1:{stack.worker_metrics_port}/metrics"
    api_before, worker_before = scrape(api_metrics), scrape(worker_metrics)
    pieces = split(webm, uneven_sizes(len(webm), 3))

    with stack.client() as client:
        created = client.post("/api/record/videos/", data={"title": "metrics"})
        assert created.status_code == 201
        video_id = created.json()["video_id"]
        for index, piece in enumerate(pieces):
            response = client.patch(
                f"/api/record/videos/{video_id}/update_video_chunck/",
                data={"chunk_index": str(index)},
                files={"video_chunck": ("blob", piece, "application/octet-stream")},
            )
            assert response.status_code == 200, response.text
        uploading = scrape(api_metrics)
        finalized = client.post(f"/api/record/videos/{video_id}/finalize_video_upload/")
        assert finalized.status_code == 200, finalized.text

    video = stack.wait_for(video_id)
    assert video["status"] == "ready", video
    api_after = scrape(api_metrics)
    finished_before = value(worker_before, "recordplus_jobs_finished_total", queue="assemble", outcome="done")
    worker_after = scrape_until(
        worker_metrics,
        lambda s: (
            value(s, "recordplus_jobs_finished_total", queue="assemble", outcome="done") > finished_before
            and value(s, "recordplus_jobs_running", queue="assemble") == 0
        ),
    )

    # Upload counters moved by exactly what was sent.
    assert value(api_after, "recordplus_upload_bytes_total") - value(
        api_before, "recordplus_upload_bytes_total"
    ) == len(webm)
    assert value(api_after, "recordplus_upload_chunks_total") - value(
        api_before, "recordplus_upload_chunks_total"
    ) == len(pieces)
    chunk_requests = {
        labels: v
        for (name, labels), v in api_after.items()
        if name == "recordplus_http_requests_total" and ("method", "PATCH") in labels and ("status", "200") in labels
    }
    assert sum(chunk_requests.values()) - value(
        api_before, "recordplus_http_requests_total", method="PATCH", status="200"
    ) == len(pieces)
    # Routes are templates, never raw paths with ids in them.
    assert all(str(video_id) not in dict(labels)["route"] for labels in chunk_requests)
    assert value(api_after, "recordplus_http_request_duration_seconds_count", method="PATCH") > value(
        api_before, "recordplus_http_request_duration_seconds_count", method="PATCH"
    )

    # The video counted as uploading while chunks arrived, and no longer once ready.
    in_progress = value(uploading, "recordplus_uploads_in_progress")
    assert in_progress == value(api_before, "recordplus_uploads_in_progress") + 1
    assert value(api_after, "recordplus_uploads_in_progress") == in_progress - 1

    # Backlog gauges KEDA scales on: both states of both queues are always exported.
    for queue in ("assemble", "transcribe"):
        for state in ("waiting", "running"):
            assert ("recordplus_queue_backlog_jobs", (("queue", queue), ("state", state))) in api_after
    assert value(api_after, "recordplus_queue_backlog_jobs", queue="assemble") == 0
    assert ("recordplus_transcription_backlog_audio_seconds", ()) in api_after
    assert {dict(ls)["queue"] for n, ls in api_after if n == "recordplus_broker_queue_messages"} >= {"assemble"}

    # The worker's own port counted the assemble job start to finish.
    def moved(name: str, **labels: str) -> float:
        return value(worker_after, name, **labels) - value(worker_before, name, **labels)

    assert moved("recordplus_jobs_started_total", queue="assemble") >= 1
    assert moved("recordplus_jobs_finished_total", queue="assemble", outcome="done") >= 1
    assert moved("recordplus_assembly_duration_seconds_count") >= 1
    assert moved("recordplus_assembled_bytes_total") >= len(webm)
    assert value(worker_after, "recordplus_jobs_running", queue="assemble") == 0
