"""With METRICS_PORT set, `recordplus serve` answers /metrics and /readyz only on that second
listener; the public port (the one the chart's ingress routes) answers 404 for both.

A real server process on loopback (embedded mode: the listener is the same in both modes)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RECORDPLUS, ROOT, Stack, embedded_env, free_port
from tests.support import create_video


def _wait_until_served(stack: Stack, url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        stack.assert_alive()
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise AssertionError(f"{url} never answered 200: {last}\n{stack.logs()}")


@pytest.fixture(scope="module")
def split_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("metrics-port")
    metrics_port = free_port()
    env = embedded_env(workdir / "var", METRICS_PORT=str(metrics_port))
    stack = Stack(mode="embedded", env=env, workdir=workdir, data_dir=workdir / "var", port=free_port())
    stack.worker_metrics_port = metrics_port  # the API's metrics listener, here
    stack.add("api", [RECORDPLUS, "serve", "--host", "127.0.0.1", "--port", str(stack.port)])
    try:
        # The listener starts before uvicorn binds the public port: wait for both.
        _wait_until_served(stack, f"http://127.0.0.1:{metrics_port}/readyz")
        _wait_until_served(stack, f"{stack.url}/healthz")
        yield stack
    finally:
        stack.stop()


def _metrics_url(stack: Stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.worker_metrics_port}{path}"


def _requests_counted(text: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "recordplus_http_requests_total" and labels.items() <= sample.labels.items()
    )


def test_it_answers_404_for_metrics_and_readyz_on_the_public_port(split_stack: Stack) -> None:
    for path in ("/metrics", "/readyz"):
        response = httpx.get(f"{split_stack.url}{path}", timeout=10)
        assert response.status_code == 404, (path, response.text[:200])
        assert "recordplus_" not in response.text and "checks" not in response.text
    # The public port still serves the API and liveness.
    assert httpx.get(f"{split_stack.url}/healthz", timeout=10).json() == {"status": "ok"}
    with split_stack.client() as client:
        video_id = create_video(client, title="counted on the metrics port")
        assert client.get(f"/api/record/videos/{video_id}").json()["title"] == "counted on the metrics port"


def test_it_serves_the_public_ports_request_metrics_on_the_metrics_port(split_stack: Stack) -> None:
    before = httpx.get(_metrics_url(split_stack, "/metrics"), timeout=10)
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    with split_stack.client() as client:
        create_video(client, title="one more")
    after = httpx.get(_metrics_url(split_stack, "/metrics"), timeout=10).text
    # The create on the public port is counted; the backlog gauges come along.
    assert _requests_counted(after, method="POST", status="201") == _requests_counted(before.text, method="POST", status="201") + 1
    assert "recordplus_queue_backlog_jobs" in after
    # Scrapes bypass the request stack: they are not counted as API requests.
    assert 'route="metrics"' not in after and "/metrics" not in after


def test_it_reports_readiness_details_on_the_metrics_port_only(split_stack: Stack) -> None:
    ready = httpx.get(_metrics_url(split_stack, "/readyz"), timeout=30)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok", "broker": "ok"}}
    assert httpx.get(_metrics_url(split_stack, "/healthz"), timeout=10).json() == {"status": "ok"}
    # Nothing else: the API itself is not reachable through the metrics port.
    missing = httpx.get(_metrics_url(split_stack, "/api/record/videos/"), timeout=10)
    assert missing.status_code == 404
    assert "no such endpoint on the metrics port" in missing.json()["message"]


def test_it_refuses_a_metrics_port_equal_to_the_public_port(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(tmp_path / "var", METRICS_PORT=str(port))
    result = subprocess.run(
        [RECORDPLUS, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("recordplus: METRICS_PORT=") and "Traceback" not in result.stderr, result.stderr


def test_it_refuses_a_metrics_port_that_is_not_a_port(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var", METRICS_PORT="70000")
    result = subprocess.run(
        [RECORDPLUS, "serve", "--port", str(free_port())],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == "recordplus: METRICS_PORT=70000 is not a TCP port; use 1-65535, or 0 for none"
