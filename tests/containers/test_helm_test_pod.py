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
    # The kind try-out's rendering on a plain cluster: no KEDA objects, the CPU transcriber.
    assert not [d for d in cluster.documents if d["kind"] == "ScaledObject"]
    assert cluster.workloads["transcriber"].env["TRANSCRIBE_ENGINE"] == "faster-whisper"
    assert cluster.workloads["test"].container["imagePullPolicy"] == "Never"

    # The Pod talks to two Services (public and metrics); here it shares the API container's
    # network namespace, so each Service address becomes the container port it targets.
    args = list(test.args)
    for component in ("api", "api-metrics"):
        service = find(cluster.documents, "Service", component)
        (port,) = service["spec"]["ports"]
        target = port["targetPort"]
        target = cluster.api.workload.ports[target] if isinstance(target, str) else target
        rendered = f"http://{service['metadata']['name']}:{port['port']}"
        assert any(f'"{rendered}"' in arg for arg in args), f"{rendered} not in the test command {args}"
        args = [arg.replace(f'"{rendered}"', f'"http://127.0.0.1:{target}"') for arg in args]
    local = replace(test, args=args)

    container = Container.start(local, cluster.logdir / "helm-test", network=f"container:{cluster.api.name}")
    try:
        exit_code = container.wait(timeout=120)
        output = container.logs(tail=None)
    finally:
        container.remove()
    assert exit_code == 0, output
    assert output.split() == ["/healthz", "200", "/readyz", "200", "ok"], output
