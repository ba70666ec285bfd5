"""The kind try-out (charts/recordplus/ci/kind-values.yaml, docs/deploy.md "Try it on kind")
renders valid objects on a plain cluster and on one with KEDA, runs the CPU transcriber with no
GPU scheduling, uses only the images `kind load` put on the node, and names one namespace
everywhere a user copies a command from."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.support import (
    CHART,
    K8S,
    KEDA_API,
    NAMESPACE,
    PROMETHEUS_OPERATOR_API,
    ROOT,
    load_file_documents,
    pod_spec,
    render_chart,
    run_helm,
    validate_document,
    workload,
)

KIND_VALUES = CHART / "ci" / "kind-values.yaml"
CUSTOM_KINDS = {"ScaledObject", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
POD_KINDS = {"Deployment", "Job", "Pod"}


@pytest.fixture(scope="module")
def plain() -> list[dict[str, Any]]:
    """kind as `kind create cluster` makes it: no KEDA, no Prometheus Operator."""
    return render_chart(KIND_VALUES, api_versions=())


@pytest.fixture(scope="module")
def with_keda() -> list[dict[str, Any]]:
    """kind after `kubectl apply --server-side -k k8s/keda`."""
    return render_chart(KIND_VALUES, api_versions=(KEDA_API,))


def _problems(documents: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {f"{d['kind']}/{d['metadata']['name']}": issues for d in documents if (issues := validate_document(d))}


def test_it_renders_no_custom_resources_on_a_plain_cluster(plain: list[dict[str, Any]]) -> None:
    assert {d["kind"] for d in plain} & CUSTOM_KINDS == set()
    assert _problems(plain) == {}
    # Without KEDA each worker has a fixed count instead of nobody owning it (0 pods).
    for component in ("assembler", "transcriber"):
        assert workload(plain, "Deployment", component)["spec"]["replicas"] == 1
    assert workload(plain, "Deployment", "api")["spec"]["replicas"] == 1
    assert not [d for d in plain if d["kind"] == "HorizontalPodAutoscaler"]  # kind has no metrics-server


def test_it_scales_the_workers_with_keda_when_the_cluster_has_it(with_keda: list[dict[str, Any]]) -> None:
    assert _problems(with_keda) == {}
    for component in ("assembler", "transcriber"):
        scaled = workload(with_keda, "ScaledObject", component)
        deployment = workload(with_keda, "Deployment", component)
        assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
        assert "replicas" not in deployment["spec"]  # KEDA owns the count
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["metadata"]["serverAddress"] == f"http://prometheus.{NAMESPACE}.svc.cluster.local:9090"
    # The Prometheus Operator's kinds follow their own API, not KEDA's.
    assert {d["kind"] for d in with_keda} & {"ServiceMonitor", "PodMonitor", "PrometheusRule"} == set()


def test_it_renders_the_monitors_when_the_operator_is_there() -> None:
    documents = render_chart(KIND_VALUES, api_versions=(PROMETHEUS_OPERATOR_API,))
    assert {d["kind"] for d in documents} & CUSTOM_KINDS == {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
    assert _problems(documents) == {}


def test_it_lints_strictly_on_a_plain_cluster() -> None:
    result = run_helm("lint", "--strict", str(CHART), "--values", str(KIND_VALUES), "--namespace", NAMESPACE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("enabled", ["true", "false", "auto"])
def test_it_decides_keda_by_the_value_or_the_cluster(enabled: str) -> None:
    def scaled_objects(*apis: str) -> int:
        documents = render_chart(KIND_VALUES, "--set", f"keda.enabled={enabled}", api_versions=apis)
        return len([d for d in documents if d["kind"] == "ScaledObject"])

    expected = {"true": (2, 2), "false": (0, 0), "auto": (0, 2)}[enabled]
    assert (scaled_objects(), scaled_objects(KEDA_API)) == expected


def test_it_refuses_a_keda_value_it_does_not_know() -> None:
    result = run_helm("template", "r", str(CHART), "--set", "keda.enabled=sometimes")
    assert result.returncode != 0
    assert "keda" in result.stderr


def test_it_transcribes_on_cpu_without_gpu_scheduling(plain: list[dict[str, Any]]) -> None:
    transcriber = workload(plain, "Deployment", "transcriber")
    container = pod_spec(transcriber)["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["TRANSCRIBE_ENGINE"] == "faster-whisper"
    assert env["WHISPER_DEVICE"] == "cpu"
    assert env["WHISPER_COMPUTE_TYPE"] == "int8"
    for doc in plain:
        if doc["kind"] not in POD_KINDS:
            continue
        spec = pod_spec(doc)
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert not spec.get("nodeSelector") and not spec.get("tolerations") and not spec.get("affinity"), where
        for item in spec["containers"]:
            assert "gpu" not in str(item.get("resources", {})), where


def test_it_asks_kind_for_little(plain: list[dict[str, Any]]) -> None:
    """What the release requests fits a kind node beside k8s/ on a 4-CPU, 8 GB laptop."""

    def cpu(quantity: str) -> float:
        return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)

    def mebibytes(quantity: str) -> float:
        number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
        return float(number) * (1024 if unit == "Gi" else 1)

    requests = [
        item["resources"]["requests"]
        for doc in plain
        if doc["kind"] == "Deployment"
        for item in pod_spec(doc)["containers"]
    ]
    assert sum(cpu(r["cpu"]) for r in requests) <= 0.5
    assert sum(mebibytes(r["memory"]) for r in requests) <= 1024


def test_it_runs_only_the_images_kind_load_put_on_the_node(plain: list[dict[str, Any]]) -> None:
    images = {}
    for doc in plain:
        if doc["kind"] not in POD_KINDS:
            continue
        for item in pod_spec(doc)["containers"]:
            assert item["imagePullPolicy"] == "Never", doc["metadata"]["name"]
            images[doc["metadata"]["name"]] = item["image"]
    assert set(images.values()) == {"recordplus/api:dev", "recordplus/assembler:dev", "recordplus/transcriber:dev"}
    # The docs build and load exactly these (docker.io/ is how an unqualified name is stored).
    text = (ROOT / "docs" / "deploy.md").read_text()
    for image in set(images.values()):
        assert f"docker.io/{image}" in text, image


# --- one namespace ----------------------------------------------------------------------------

_NAMESPACE_FLAG = re.compile(r"(?:\s-n|--namespace)[ =]([A-Za-z0-9.$\-{}]+)")
_CLUSTER_HOST = re.compile(r"\b[a-z0-9-]+\.([a-z0-9-]+)\.svc\.cluster\.local\b")


def test_it_names_one_namespace_everywhere() -> None:
    (namespace,) = [d["metadata"]["name"] for d in load_file_documents(K8S / "namespace.yaml")]
    assert namespace == NAMESPACE
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_file_documents(path):
            if doc["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding", "Kustomization"}:
                assert doc["metadata"].get("namespace") == NAMESPACE, f"{path.name}: {doc['kind']}/{doc['metadata']['name']}"
            for subject in doc.get("subjects", []):
                assert subject.get("namespace") == NAMESPACE, f"{path.name}: {subject}"
    files = [
        ROOT / "README.md",
        ROOT / "docs" / "deploy.md",
        ROOT / "Tiltfile",
        CHART / "values.yaml",
        *sorted((CHART / "ci").glob("*-values.yaml")),
        CHART / "templates" / "NOTES.txt",
        K8S / "kustomization.yaml",
    ]
    # Namespaces that are not ours: KEDA's own, and production's monitoring stack.
    foreign = {"keda", "monitoring"}
    for path in files:
        text = path.read_text()
        assert "recordplus-deps" not in text, path
        flags = {m for m in _NAMESPACE_FLAG.findall(text) if not m.startswith(("{{", "$"))} - foreign
        assert flags <= {NAMESPACE}, f"{path.relative_to(ROOT)}: -n/--namespace {flags}"
        hosts = set(_CLUSTER_HOST.findall(text)) - foreign
        assert hosts <= {NAMESPACE}, f"{path.relative_to(ROOT)}: Services in {hosts}"
    tiltfile = (ROOT / "Tiltfile").read_text()
    assert f'NAMESPACE = "{NAMESPACE}"' in tiltfile


def test_it_tells_the_installer_how_to_reach_both_ports() -> None:
    result = run_helm(
        "install", "recordplus", str(CHART), "--dry-run=client", "--namespace", NAMESPACE, "--values", str(KIND_VALUES)
    )
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f'namespace "{NAMESPACE}"' in notes
    assert "port-forward svc/recordplus-api 8000:80" in notes
    assert "port-forward svc/recordplus-api-metrics 9102" in notes
    # --dry-run=client sees no KEDA: the notes say what runs instead.
    assert "No KEDA ScaledObjects" in notes and "the assembler runs 1 pod(s), the transcriber 1" in notes
