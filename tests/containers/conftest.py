"""Fixtures of the container stage: the three images running together as the chart runs them,
against this machine's PostgreSQL, RabbitMQ and moto's S3 server, and one real recording
pushed through them.

These tests need the images that `bash .ci/containers` builds just before it runs them, so
the main test run leaves this folder out (it has no images yet); the stage sets
RECORDPLUS_CI_CONTAINERS=1. Under CI=true a missing prerequisite fails, never skips.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.containers.support import (
    Container,
    Workload,
    ci_values,
    find,
    image_exists,
    metric,
    podman_binary,
    render,
    samples,
    wait_http,
    wait_tcp_inside,
)
from tests.needs import require
from tests.support import create_video, finalize, send_chunk, split, uneven_sizes

collect_ignore_glob = [] if os.environ.get("RECORDPLUS_CI_CONTAINERS") == "1" else ["test_*.py"]

SERVICES = ("api", "assembler", "transcriber")
WORKERS = {"assembler": "assemble", "transcriber": "transcribe"}


@dataclass
class Cluster:
    """The rendered chart and the containers started from it."""

    documents: list[dict[str, Any]]
    workloads: dict[str, Workload]
    logdir: Path
    bucket: str
    containers: dict[str, Container] = field(default_factory=dict)
    migrate_exit: int | None = None
    migrate_log: str = ""

    @property
    def api(self) -> Container:
        return self.containers["api"]

    def metrics_url(self, service: str) -> str:
        container = self.containers[service]
        # The API's too: its public port answers 404 for /metrics (METRICS_PORT).
        return container.url("metrics", "/metrics")

    def assert_running(self) -> None:
        for container in self.containers.values():
            container.assert_running()


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: str, rabbitmq_url: str, moto_server: str
) -> Iterator[Cluster]:
    """Migrations by the hook Job's command, then the api, assembler and transcriber
    Deployments' containers, each configured only by what the rendered chart gives it."""
    import boto3

    podman_binary()
    bucket = f"recordplus-ci-{uuid.uuid4().hex[:8]}"
    documents = render(ci_values(database_url=postgres_database, broker_url=rabbitmq_url, s3_url=moto_server, bucket=bucket))
    workloads = {name: Workload.of(documents, find(documents, "Deployment", name)) for name in SERVICES}
    workloads["migrate"] = Workload.of(documents, find(documents, "Job", "migrate"))
    workloads["test"] = Workload.of(documents, find(documents, "Pod", "test"))
    for workload in workloads.values():
        require(image_exists(workload.image), f"image {workload.image} (bash .ci/containers builds it)")
    # The bucket exists before the release, as the chart expects (s3.createBucket: false).
    boto3.client(
        "s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    ).create_bucket(Bucket=bucket)

    logdir = tmp_path_factory.mktemp("container-logs")
    cluster = Cluster(documents, workloads, logdir, bucket)
    try:
        migrate = Container.start(workloads["migrate"], logdir)
        deadline = find(documents, "Job", "migrate")["spec"].get("activeDeadlineSeconds", 600)
        cluster.migrate_exit = migrate.wait(timeout=deadline)
        cluster.migrate_log = migrate.logs(tail=None)
        migrate.remove()
        assert cluster.migrate_exit == 0, f"the migration Job's container failed:\n{cluster.migrate_log}"
        for name in SERVICES:
            cluster.containers[name] = Container.start(workloads[name], logdir)
        probe = workloads["api"].container["startupProbe"]
        wait_http(
            cluster.api.url(probe["httpGet"]["port"], probe["httpGet"]["path"]),
            period=probe.get("periodSeconds", 10),
            attempts=probe.get("failureThreshold", 3),
            container=cluster.api,
        )
        for worker in WORKERS:
            container = cluster.containers[worker]
            probe = container.workload.container["readinessProbe"]
            port = probe["tcpSocket"]["port"]
            wait_tcp_inside(
                container,
                container.workload.ports[port] if isinstance(port, str) else port,
                period=probe.get("periodSeconds", 10),
                attempts=max(probe.get("failureThreshold", 3), 6),
            )
        yield cluster
    finally:
        for container in cluster.containers.values():
            container.remove()
        print(f"\ncontainer logs: {logdir}")


@dataclass
class Recording:
    """One recording that went through the containers, and each container's /metrics around it."""

    video_id: int
    token: str
    data: bytes
    chunks: int
    detail: dict[str, Any]
    before: dict[str, dict[Any, float]]
    after: dict[str, dict[Any, float]]


def _poll(cluster: Cluster, client: httpx.Client, video_id: int, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    detail: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = client.get(f"/api/record/videos/{video_id}")
        assert response.status_code == 200, response.text
        detail = response.json()
        if done(detail):
            return detail
        cluster.assert_running()
        time.sleep(0.5)
    logs = "\n".join(f"--- {n} ---\n{c.logs()}" for n, c in cluster.containers.items())
    raise AssertionError(f"video {video_id} stuck: {detail}\n{logs}")


@pytest.fixture(scope="session")
def recording(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """A short WebM with English speech (espeak-ng + ffmpeg), sent as the web app sends it:
    create, three chunks with their index, finalize; then ready, then a finished transcript."""
    from tests.transcriber.fixtures import (
        SENTENCES,
        concat_wavs,
        make_video,
        require_tools,
        speak,
    )

    require_tools("espeak-ng", "ffmpeg", "ffprobe")
    media = tmp_path_factory.mktemp("recording")
    parts = [speak(text, media / f"part{i}.wav") for i, text in enumerate(SENTENCES)]
    data = make_video(concat_wavs(parts, media / "speech.wav"), media / "speech.webm").read_bytes()

    # As the chart's NOTES say: `kubectl exec deploy/<api> -- recordplus createuser NAME`.
    cluster.assert_running()
    created = cluster.api.exec("recordplus", "createuser", f"ci-{uuid.uuid4().hex[:6]}")
    token = created.stdout.strip().splitlines()[-1]

    before = {service: samples(cluster.metrics_url(service)) for service in SERVICES}
    pieces = split(data, uneven_sizes(len(data), 3))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=cluster.api.url("http"), headers=headers, timeout=60) as client:
        video_id = create_video(client, title="through the containers")
        for index, piece in enumerate(pieces):
            response = send_chunk(client, video_id, piece, index)
            assert response.status_code == 200, response.text
        response = finalize(client, video_id)
        assert response.status_code == 200, response.text
        _poll(cluster, client, video_id, lambda d: d["status"] in ("ready", "failed"), timeout=240)
        detail = _poll(
            cluster,
            client,
            video_id,
            lambda d: d["status"] == "failed" or (d.get("transcription") or {}).get("status") in ("done", "failed"),
            timeout=300,
        )

    # A worker records a job's end in its metrics a moment after it wrote the result.
    after: dict[str, dict[Any, float]] = {}
    deadline = time.monotonic() + 30
    while True:
        after = {service: samples(cluster.metrics_url(service)) for service in SERVICES}
        settled = all(
            metric(after[w], "recordplus_jobs_finished_total", queue=q) > metric(before[w], "recordplus_jobs_finished_total", queue=q)
            and metric(after[w], "recordplus_jobs_running", queue=q) == 0
            for w, q in WORKERS.items()
        )
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return Recording(video_id, token, data, len(pieces), detail, before, after)
