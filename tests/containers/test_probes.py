"""The probes the chart gives each Deployment pass against the running containers."""

from __future__ import annotations

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
