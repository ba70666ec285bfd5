"""The dev-cluster dependencies in k8s/ validate strictly, carry the same labels as the chart,
and line up with the chart's development defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import CHART, K8S, load_file_documents, validate_document

MANIFESTS = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def _all_documents() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in load_file_documents(path)]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(K8S)))
def test_it_validates_strictly(path: Path) -> None:
    problems = {
        f"{d['kind']}/{d['metadata']['name']}": issues
        for d in load_file_documents(path)
        if (issues := validate_document(d))
    }
    assert problems == {}


def test_it_lists_every_manifest_in_the_kustomizations() -> None:
    listed: set[Path] = set()
    remote: dict[Path, list[str]] = {}
    for kustomization in K8S.rglob("kustomization.yaml"):
        for resource in yaml.safe_load(kustomization.read_text())["resources"]:
            if resource.startswith("https://"):
                assert "/releases/download/v" in resource, "remote resources must be pinned releases"
                remote.setdefault(kustomization.parent, []).append(resource)
                continue
            target = kustomization.parent / resource
            assert target.exists(), f"{kustomization}: {resource}"
            listed.add(target)
    assert set(MANIFESTS) <= listed
    # `kubectl apply -k k8s/` needs no network and no server-side apply: KEDA (a download, with
    # CRDs too big for a client-side apply) is its own kustomization, k8s/keda.
    assert set(remote) == {K8S / "keda"}
    assert "keda" not in yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]


def test_it_labels_everything_like_the_chart() -> None:
    for doc in _all_documents():
        labels = doc["metadata"].get("labels", {})
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert labels.get("app.kubernetes.io/part-of") == "recordplus", where
        assert labels.get("app.kubernetes.io/name"), where
        assert labels.get("app.kubernetes.io/component"), where
        template = doc.get("spec", {}).get("template")
        if template:
            assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "recordplus", where
            if doc["kind"] != "Job":  # a Job's selector is generated
                assert doc["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), where


def _services() -> dict[tuple[str, str], set[int]]:
    """(name, namespace) of every Service in k8s/, with its ports."""
    return {
        (d["metadata"]["name"], d["metadata"]["namespace"]): {port["port"] for port in d["spec"]["ports"]}
        for d in _all_documents()
        if d["kind"] == "Service"
    }


@pytest.mark.parametrize("values_file", ["values.yaml", "ci/kind-values.yaml", "ci/dev-values.yaml"])
def test_it_provides_what_the_chart_values_point_at(values_file: str) -> None:
    from urllib.parse import urlsplit

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    overrides = yaml.safe_load((CHART / values_file).read_text())
    for key in ("database", "broker", "s3", "keda"):
        values[key] = {**values[key], **overrides.get(key, {})}
    services = _services()
    for url in (
        values["database"]["url"],
        values["broker"]["url"],
        values["s3"]["endpointUrl"],
        values["keda"]["prometheusServerAddress"],
    ):
        parts = urlsplit(url)
        assert parts.hostname and parts.hostname.endswith(".svc.cluster.local"), url
        name, namespace = parts.hostname.split(".")[:2]
        assert (name, namespace) in services, f"{url}: no Service {name} in namespace {namespace} in k8s/"
        assert parts.port in services[(name, namespace)], f"{url}: Service {name} has no port {parts.port}"
    secrets = {d["metadata"]["name"]: d["stringData"] for d in _all_documents() if d["kind"] == "Secret"}
    assert secrets["minio"]["MINIO_ROOT_USER"] == values["s3"]["accessKeyId"]
    assert secrets["minio"]["MINIO_ROOT_PASSWORD"] == values["s3"]["secretAccessKey"]
    broker = urlsplit(values["broker"]["url"])
    rabbitmq = secrets["rabbitmq"]
    assert (broker.username, broker.password) == (rabbitmq["RABBITMQ_DEFAULT_USER"], rabbitmq["RABBITMQ_DEFAULT_PASS"])
    assert broker.path == "/" + rabbitmq["RABBITMQ_DEFAULT_VHOST"]
    database = urlsplit(values["database"]["url"])
    postgres = secrets["postgresql"]
    assert (database.username, database.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
    assert database.path == "/" + postgres["POSTGRES_DB"]
    # The bucket the chart uses is the one k8s/minio.yaml's Job creates.
    job = next(d for d in _all_documents() if d["kind"] == "Job" and d["metadata"]["name"] == "minio-create-bucket")
    assert f"dev/{values['s3']['bucket']}" in job["spec"]["template"]["spec"]["containers"][0]["args"][0]


def test_it_creates_the_bucket_and_provisions_grafana() -> None:
    documents = _all_documents()
    job = next(d for d in documents if d["kind"] == "Job" and d["metadata"]["name"] == "minio-create-bucket")
    assert "mc mb --ignore-existing dev/recordplus" in job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    grafana = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == "grafana")
    sidecar = next(c for c in grafana["spec"]["template"]["spec"]["containers"] if c["name"] == "dashboard-sidecar")
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())["metrics"]["dashboards"]
    assert (env["LABEL"], env["LABEL_VALUE"]) == (chart_values["label"], chart_values["labelValue"])
    assert env["NAMESPACE"] == "ALL"


def test_it_relabels_scrapes_like_the_chart_monitors() -> None:
    config = next(d for d in _all_documents() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prometheus")
    scrape = yaml.safe_load(config["data"]["prometheus.yml"])["scrape_configs"][0]
    targets = {r.get("target_label") for r in scrape["relabel_configs"]}
    # The dashboards, alerts and KEDA queries select on these.
    assert {"namespace", "pod", "component"} <= targets
