"""`recordplus serve --workers N` (cluster mode): the request metrics of every worker process
reach /metrics.

uvicorn's worker processes each count the requests they answer. The bug this catches: without a
metrics folder they share, the metrics port (served by the parent process, which answers no
request itself) showed no request at all, and the public /metrics showed whichever worker the
scrape reached — a dashboard's request rate read 0 or 1/N of the traffic. Real PostgreSQL,
RabbitMQ, moto's S3 and two uvicorn workers.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import RECORDPLUS, Stack, cluster_env, free_port, fresh_postgres_database, fresh_rabbitmq_vhost

pytestmark = pytest.mark.cluster

ROUTE = "/api/record/videos/<video_id>"
REQUESTS = 24


def _count(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _wait_serving(stack: Stack, timeout: float = 120) -> None:
    """Until the workers answer on the public port (they start after the metrics port does)."""
    deadline = time.monotonic() + timeout
    while True:
        stack.assert_alive()
        try:
            if httpx.get(f"{stack.url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"the workers never answered\n{stack.logs()}"
        time.sleep(0.2)


def test_it_counts_the_requests_of_every_worker_process(tmp_path: Path, moto_server: str) -> None:
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        metrics_port = free_port()
        env = cluster_env(database, broker, moto_server, f"recordplus-{uuid.uuid4().hex[:8]}")
        env.update(METRICS_PORT=str(metrics_port), TMPDIR=str(tmp_path))
        stack = Stack(mode="cluster", env=env, workdir=tmp_path, port=free_port())
        try:
            stack.run("migrate")
            stack.add("api", [RECORDPLUS, "serve", "--workers", "2", "--host", "127.0.0.1", "--port", str(stack.port)])
            stack.wait_ready(f"http://127.0.0.1:{metrics_port}", timeout=120)  # /readyz is on the metrics port
            _wait_serving(stack)
            with stack.client() as client:
                video_id = client.post("/api/record/videos/", json={"title": "counted"}).json()["video_id"]
            for _ in range(REQUESTS):  # a connection each, so the kernel hands them to both workers
                with stack.client() as client:
                    assert client.get(f"/api/record/videos/{video_id}").status_code == 200
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=30).text
            assert _count(scraped, "recordplus_http_requests_total", route=ROUTE, method="GET", status="200") == REQUESTS
            shared = [p for p in tmp_path.iterdir() if p.name.startswith("recordplus-metrics-serve-p")]
            assert len(shared) == 1 and any(shared[0].glob("*.db")), f"no shared metrics folder: {list(tmp_path.iterdir())}"
            assert "recordplus_queue_backlog_jobs" in scraped  # the backlog gauges KEDA reads are still there
            public = httpx.get(f"{stack.url}/metrics", timeout=30)
            assert public.status_code == 404  # the public port serves no metrics when METRICS_PORT is set
        finally:
            stack.stop()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith("recordplus-metrics-")], "the metrics folder stayed"
