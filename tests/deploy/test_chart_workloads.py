"""What the chart's workloads must get right: GPU scheduling, hardened containers, probes,
config-driven restarts, the migration hook, upload-friendly ingress, and the file layout."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.conftest import VALUES_SETS
from tests.deploy.support import CHART, by_kind, load_documents, pod_spec, render_chart, run_helm, workload

WORKLOADS = ("api", "assembler", "transcriber")


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = pod_spec(doc)["containers"]
    assert len(containers) == 1
    return containers[0]


def test_it_gives_the_transcriber_a_gpu_on_gpu_nodes(production: list[dict[str, Any]]) -> None:
    transcriber = workload(production, "Deployment", "transcriber")
    spec, container = pod_spec(transcriber), _container(transcriber)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert spec["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    for other in ("api", "assembler"):
        resources = _container(workload(production, "Deployment", other))["resources"]
        assert "nvidia.com/gpu" not in resources.get("limits", {})


def test_it_runs_the_cpu_transcriber_without_gpu_requests(rendered: dict[str, list[dict[str, Any]]]) -> None:
    transcriber = workload(rendered["dev"], "Deployment", "transcriber")
    assert "nvidia.com/gpu" not in str(_container(transcriber)["resources"])
    assert "nodeSelector" not in pod_spec(transcriber)
    env = {e["name"]: e["value"] for e in _container(transcriber)["env"]}
    assert env["WHISPER_DEVICE"] == "cpu"


@pytest.mark.parametrize("values_name", ["default", "minimal", "production"])
def test_it_hardens_every_container(rendered: dict[str, list[dict[str, Any]]], values_name: str) -> None:
    pods = [d for d in rendered[values_name] if d["kind"] in ("Deployment", "Job", "Pod")]
    assert len(pods) >= 5
    for doc in pods:
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        assert spec["automountServiceAccountToken"] is False, doc["metadata"]["name"]
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            # A read-only root still needs somewhere to spool uploads and run ffmpeg.
            if doc["kind"] != "Pod":
                assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_it_probes_the_api_on_healthz_and_readyz(production: list[dict[str, Any]]) -> None:
    api = _container(workload(production, "Deployment", "api"))
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Liveness on the public port (it is what must keep answering), readiness on the metrics port.
    assert api["livenessProbe"]["httpGet"]["port"] == "http"
    assert api["readinessProbe"]["httpGet"]["port"] == "metrics"
    assert api["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    for name in ("assembler", "transcriber"):
        worker = _container(workload(production, "Deployment", name))
        assert worker["livenessProbe"]["tcpSocket"]["port"] == "metrics"
        assert worker["ports"] == [{"name": "metrics", "containerPort": 9191, "protocol": "TCP"}]


def test_it_binds_each_worker_to_its_queue(production: list[dict[str, Any]]) -> None:
    for name, queue in (("assembler", "assemble"), ("transcriber", "transcribe")):
        deployment = workload(production, "Deployment", name)
        args = _container(deployment)["args"]
        assert args[:3] == ["worker", "--queues", queue]
        # The job in hand may finish before Kubernetes kills the pod.
        timeout = int(args[args.index("--shutdown-timeout") + 1])
        assert timeout < pod_spec(deployment)["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("values_name", sorted(VALUES_SETS))
def test_it_restarts_pods_when_config_or_secret_change(
    rendered: dict[str, list[dict[str, Any]]], values_name: str
) -> None:
    for name in WORKLOADS:
        annotations = workload(rendered[values_name], "Deployment", name)["spec"]["template"]["metadata"]["annotations"]
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/config"])
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/secret"])


def test_it_changes_the_checksum_with_a_setting() -> None:
    def checksum(*extra: str) -> str:
        result = run_helm("template", "r", str(CHART), "--set", "secretKey=fixed", *extra)
        assert result.returncode == 0, result.stderr
        api = workload(load_documents(result.stdout), "Deployment", "api")
        return api["spec"]["template"]["metadata"]["annotations"]["checksum/config"]

    assert checksum() == checksum()
    assert checksum() != checksum("--set", "config.logLevel=debug")


def test_it_migrates_the_database_in_a_hook_before_the_pods(production: list[dict[str, Any]]) -> None:
    job = workload(production, "Job", "migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
    container = _container(job)
    assert container["args"] == ["migrate"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["RECORDPLUS_MODE"] == "cluster"
    # Production uses an existing Secret, which exists before any hook runs.
    assert container["envFrom"] == [{"secretRef": {"name": "recordplus-credentials"}}]


def test_it_gives_the_hook_its_own_secret_when_the_chart_makes_the_secret(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    documents = rendered["minimal"]
    job = workload(documents, "Job", "migrate")
    secret_name = _container(job)["envFrom"][0]["secretRef"]["name"]
    secret = by_kind(documents, "Secret")[secret_name]
    hook_weight = int(secret["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert hook_weight < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    assert secret["stringData"]["DATABASE_URL"].startswith("postgresql://")


def test_it_lets_chunk_uploads_through_the_ingress(production: list[dict[str, Any]]) -> None:
    ingress = next(iter(by_kind(production, "Ingress").values()))
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "80m"
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "600"
    assert annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"] == "600"
    assert annotations["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["tls"][0]["hosts"] == ["record.example.com"]


def test_it_scales_the_api_on_cpu_and_protects_it_with_a_pdb(production: list[dict[str, Any]]) -> None:
    hpa = next(iter(by_kind(production, "HorizontalPodAutoscaler").values()))
    api = workload(production, "Deployment", "api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == api["metadata"]["name"]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 20)
    assert "replicas" not in api["spec"]  # the HPA owns the count
    pdbs = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d
        for d in production
        if d["kind"] == "PodDisruptionBudget"
    }
    assert set(pdbs) == set(WORKLOADS)
    assert pdbs["api"]["spec"]["minAvailable"] == 2


def test_it_selects_pods_of_its_own_component_only(production: list[dict[str, Any]]) -> None:
    for name in WORKLOADS:
        deployment = workload(production, "Deployment", name)
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["app.kubernetes.io/component"] == name
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    service = workload(production, "Service", "api")
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "api"


def test_it_ships_a_helm_test_pod_that_checks_the_api(production: list[dict[str, Any]]) -> None:
    pod = workload(production, "Pod", "test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["args"][0]
    assert "/healthz" in script and "/readyz" in script and "/metrics" in script
    compile(script, "helm-test", "exec")  # the inline check is valid Python


def test_it_keeps_one_resource_per_template_named_after_its_kind() -> None:
    kinds = {
        "configmap": "ConfigMap",
        "secret": "Secret",
        "deployment": "Deployment",
        "service": "Service",
        "ingress": "Ingress",
        "hpa": "HorizontalPodAutoscaler",
        "poddisruptionbudget": "PodDisruptionBudget",
        "scaledobject": "ScaledObject",
        "servicemonitor": "ServiceMonitor",
        "podmonitor": "PodMonitor",
        "prometheusrule": "PrometheusRule",
        "job": "Job",
        "serviceaccount": "ServiceAccount",
        "pod": "Pod",
    }
    result = run_helm("template", "r", str(CHART), "--values", str(CHART / "ci" / "production-values.yaml"))
    assert result.returncode == 0, result.stderr
    sources: dict[str, list[str]] = {}
    for block in result.stdout.split("\n---\n"):
        match = re.search(r"^# Source: recordplus/(templates/\S+)$", block, re.M)
        documents = load_documents(block)
        if match and documents:
            sources.setdefault(match.group(1), []).extend(doc["kind"] for doc in documents)
    for source, found in sources.items():
        prefix = source.rsplit("/", 1)[-1].split("-", 1)[0]
        assert found == [kinds[prefix]], f"{source} renders {found}"


def _ports(container: dict[str, Any]) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in container["ports"]}


@pytest.mark.parametrize("values_name", ["production", "kind"])
def test_it_routes_no_ingress_rule_to_the_metrics(rendered: dict[str, list[dict[str, Any]]], values_name: str) -> None:
    """The Ingress reaches only the public port, which (METRICS_PORT set) answers 404 for
    /metrics and /readyz; the metrics port is reached by Prometheus and probes only."""
    extra = () if values_name == "production" else ("--set", "api.ingress.enabled=true")
    documents = render_chart(CHART / "ci" / f"{values_name}-values.yaml", *extra)
    api = workload(documents, "Deployment", "api")
    container = _container(api)
    ports = _ports(container)
    config = next(d for d in by_kind(documents, "ConfigMap").values() if d["metadata"]["name"].endswith("-config"))
    metrics_port = int(config["data"]["METRICS_PORT"])
    assert metrics_port == ports["metrics"] and metrics_port != ports["http"]
    assert container["args"][container["args"].index("--port") + 1] == str(ports["http"])
    services = by_kind(documents, "Service")
    public = services["recordplus-api"]
    assert [(p["name"], p["targetPort"]) for p in public["spec"]["ports"]] == [("http", "http")]
    private = services["recordplus-api-metrics"]
    assert private["spec"]["type"] == "ClusterIP"
    assert [(p["name"], p["targetPort"]) for p in private["spec"]["ports"]] == [("metrics", "metrics")]
    (ingress,) = by_kind(documents, "Ingress").values()
    backends = [
        path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends and all(b == {"name": "recordplus-api", "port": {"name": "http"}} for b in backends)
    assert "metrics" not in str(ingress["spec"])
    # Prometheus scrapes the metrics port, by annotation or ServiceMonitor.
    annotations = api["spec"]["template"]["metadata"]["annotations"]
    if "prometheus.io/port" in annotations:
        assert annotations["prometheus.io/port"] == str(metrics_port)
    for monitor in by_kind(documents, "ServiceMonitor").values():
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
        selected = monitor["spec"]["selector"]["matchLabels"].items()
        assert [name for name, svc in services.items() if selected <= svc["metadata"]["labels"].items()] == [
            "recordplus-api-metrics"
        ]


def test_it_refuses_the_public_port_as_the_metrics_port() -> None:
    result = run_helm("template", "r", str(CHART), "--set", "api.metricsPort=8000")
    assert result.returncode != 0
    assert "metricsPort" in result.stderr


def test_it_checks_both_services_in_the_helm_test(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (pod,) = [d for d in rendered["kind"] if d["kind"] == "Pod"]
    script = pod["spec"]["containers"][0]["args"][0]
    assert 'public, metrics = "http://recordplus-api:80", "http://recordplus-api-metrics:9102"' in script
    assert 'get(public + "/metrics")' in script and "status != 404" in script
    assert 'get(metrics + "/readyz")' in script
