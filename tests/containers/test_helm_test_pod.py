"""`helm test`: the chart's test Pod command, run in its image against the running API."""

from __future__ import annotations

from dataclasses import replace

from tests.containers.conftest import Cluster
from tests.containers.support import Container, find


def test_it_passes_the_charts_helm_test_pod(cluster: Cluster) -> None:
    pod = find(cluster.documents, "Pod", "test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    test = cluster.workloads["test"]
    assert test.image == cluster.workloads["api"].image and test.command

    # The Pod talks to the Service; here it shares the API container's network namespace, so
    # the Service address becomes the port the Service targets.
    service = find(cluster.documents, "Service", "api")
    port = service["spec"]["ports"][0]
    target = port["targetPort"]
    target = cluster.api.workload.ports[target] if isinstance(target, str) else target
    rendered = f"http://{service['metadata']['name']}:{port['port']}"
    assert any(rendered in arg for arg in test.args), f"{rendered} not in the test command {test.args}"
    local = replace(test, args=[arg.replace(rendered, f"http://127.0.0.1:{target}") for arg in test.args])

    container = Container.start(local, cluster.logdir / "helm-test", network=f"container:{cluster.api.name}")
    try:
        exit_code = container.wait(timeout=120)
        output = container.logs(tail=None)
    finally:
        container.remove()
    assert exit_code == 0, output
    assert output.split() == ["/healthz", "200", "/readyz", "200", "ok"], output
