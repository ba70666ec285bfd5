"""The probes the chart gives each Deployment pass against the running containers."""

from __future__ import annotations

import httpx
import pytest

from tests.containers.conftest import WORKERS, Cluster
from tests.containers.support import wait_http, wait_tcp_inside

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


def test_it_answers_the_api_probes_on_the_charts_paths(cluster: Cluster) -> None:
    api = cluster.api
    paths = set()
    for kind in PROBES:
        probe = api.workload.container[kind]
        get = probe["httpGet"]
        response = wait_http(
            api.url(get["port"], get["path"]),
            period=probe.get("periodSeconds", 10),
            attempts=probe.get("failureThreshold", 3),
            container=api,
        )
        assert response.status_code == 200, (kind, response.text)
        paths.add(get["path"])
    assert paths == {"/healthz", "/readyz"}


def test_it_keeps_metrics_and_readiness_off_the_public_port(cluster: Cluster) -> None:
    """The port the Ingress routes answers 404 for both; the metrics port serves them."""
    api = cluster.api
    assert api.workload.env["METRICS_PORT"] == str(api.workload.ports["metrics"])
    for path in ("/metrics", "/readyz"):
        public = httpx.get(api.url("http", path), timeout=10)
        assert public.status_code == 404, (path, public.text[:200])
    scraped = httpx.get(api.url("metrics", "/metrics"), timeout=30)
    assert scraped.status_code == 200 and "recordplus_http_requests_total" in scraped.text
    ready = httpx.get(api.url("metrics", "/readyz"), timeout=30).json()
    assert ready == {"status": "ready", "checks": {"database": "ok", "storage": "ok", "broker": "ok"}}


@pytest.mark.parametrize("worker", sorted(WORKERS))
def test_it_opens_the_workers_probe_port(cluster: Cluster, worker: str) -> None:
    container = cluster.containers[worker]
    for kind in ("livenessProbe", "readinessProbe"):
        probe = container.workload.container[kind]
        port = probe["tcpSocket"]["port"]
        number = container.workload.ports[port] if isinstance(port, str) else port
        wait_tcp_inside(container, number, period=1, attempts=probe.get("failureThreshold", 3))
        # The port the probes watch is the one Prometheus scrapes.
        assert container.workload.ports["metrics"] == number
        wait_http(container.url(number, "/metrics"), period=1, attempts=3, container=container)
