"""The Tiltfile evaluates (Starlark, Tilt's extended dialect) against recording stand-ins for
Tilt's builtins; every local path it names exists, and what it builds and wires matches what
the chart and k8s/ deploy."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import CHART, K8S, NAMESPACE, ROOT, load_file_documents, render_chart

try:
    import starlark
except ImportError:  # pragma: no cover - the deploy dependency group installs it
    starlark = None

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job", "DaemonSet"}


@dataclass
class TiltRecord:
    """What the Tiltfile asked Tilt to do."""

    paths: list[str] = field(default_factory=list)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    helm_calls: list[dict[str, Any]] = field(default_factory=list)
    kustomize_dirs: list[str] = field(default_factory=list)
    contexts: list[str] = field(default_factory=list)
    local_resources: dict[str, dict[str, Any]] = field(default_factory=dict)


def evaluate_tiltfile(path: Path) -> TiltRecord:
    from tests.deploy.support import require

    require(starlark is not None, "PyPI package starlark-pyo3 (deploy dependency group)")
    record = TiltRecord()

    def note(*paths: str) -> None:
        record.paths.extend(paths)

    def docker_build_with_restart(ref: str, context: str, entrypoint: Any, **kwargs: Any) -> None:
        note(context, kwargs["dockerfile"], *kwargs.get("only", []))
        for step in kwargs.get("live_update", []):
            note(*step.get("paths", []), *step.get("trigger", []), *([step["local"]] if "local" in step else []))
        record.images[ref] = {"context": context, "entrypoint": entrypoint, **kwargs}

    def kustomize(directory: str) -> str:
        note(directory)
        record.kustomize_dirs.append(directory)
        return f"kustomize:{directory}"

    def helm(chart: str, name: str = "", values: list[str] | None = None, **kwargs: Any) -> str:
        note(chart, *(values or []))
        record.helm_calls.append({"chart": chart, "name": name, "values": values or [], **kwargs})
        return f"helm:{chart}"

    def k8s_resource(workload: str = "", **kwargs: Any) -> None:
        name = workload or kwargs["new_name"]
        assert name not in record.resources, f"k8s_resource({name!r}) twice"
        record.resources[name] = {"workload": workload, **kwargs}

    def local_resource(name: str, cmd: str = "", deps: list[str] | None = None, **kwargs: Any) -> None:
        note(*(deps or []))
        record.local_resources[name] = {"cmd": cmd, "deps": deps or [], **kwargs}

    builtins = {
        "allow_k8s_contexts": lambda contexts: record.contexts.extend(contexts),
        "update_settings": lambda **kwargs: None,
        "k8s_yaml": lambda blob: None,
        "kustomize": kustomize,
        "helm": helm,
        "k8s_resource": k8s_resource,
        "local_resource": local_resource,
        "watch_file": lambda p: note(p),
        "port_forward": lambda local, remote=None, name="": {"local": local, "remote": remote, "name": name},
        "link": lambda url, name="": {"url": url, "name": name},
        "fall_back_on": lambda paths: {"step": "fall_back_on", "paths": list(paths)},
        "sync": lambda local, remote: {"step": "sync", "local": local, "remote": remote},
        "run": lambda cmd, trigger=(): {"step": "run", "cmd": cmd, "trigger": list(trigger)},
    }
    module = starlark.Module()
    for name, function in builtins.items():
        module.add_callable(name, function)
    extension = starlark.Module()
    extension.add_callable("docker_build_with_restart", docker_build_with_restart)
    frozen = extension.freeze()

    def load(name: str) -> Any:
        assert name == "ext://restart_process", f"unexpected load({name!r})"
        return frozen

    ast = starlark.parse("Tiltfile", path.read_text(), starlark.Dialect.extended())
    starlark.eval(module, ast, starlark.Globals.standard(), starlark.FileLoader(load))
    return record


@pytest.fixture(scope="module")
def tilt() -> TiltRecord:
    return evaluate_tiltfile(ROOT / "Tiltfile")


def test_it_names_only_paths_that_exist(tilt: TiltRecord) -> None:
    assert len(tilt.paths) > 20
    assert [p for p in tilt.paths if not (ROOT / p).exists()] == []


def test_it_builds_the_three_images_the_dev_chart_runs(tilt: TiltRecord) -> None:
    assert set(tilt.images) == {"recordplus-api", "recordplus-assembler", "recordplus-transcriber"}
    (call,) = tilt.helm_calls
    assert Path(call["chart"]) == CHART.relative_to(ROOT)
    documents = render_chart(ROOT / call["values"][0], namespace="default")
    images = {
        container["image"].rsplit(":", 1)[0]
        for doc in documents
        if doc["kind"] in WORKLOAD_KINDS
        for container in doc["spec"]["template"]["spec"]["containers"]
    }
    assert images == set(tilt.images)


def test_it_builds_the_dev_stage_of_each_dockerfile(tilt: TiltRecord) -> None:
    for ref, image in tilt.images.items():
        dockerfile = (ROOT / image["dockerfile"]).read_text()
        assert image["target"] == "dev" and "AS dev\n" in dockerfile, ref
        assert image["context"] == "."


def test_it_syncs_code_and_reinstalls_only_when_the_lock_changes(tilt: TiltRecord) -> None:
    for ref, image in tilt.images.items():
        steps = image["live_update"]
        assert steps[0]["step"] == "fall_back_on"
        syncs = [s for s in steps if s["step"] == "sync"]
        runs = [s for s in steps if s["step"] == "run"]
        assert steps.index(syncs[0]) < steps.index(runs[0])
        assert any(s["local"] == "services/api/src" for s in syncs), ref
        (install,) = runs
        assert "uv sync --frozen" in install["cmd"]
        assert "uv.lock" in install["trigger"] and "pyproject.toml" in install["trigger"]
        # Nothing outside the image's own sources and the lock goes into the build context.
        assert all(p.startswith("services/") or p in install["trigger"] for p in image["only"])


def test_it_configures_resources_that_exist(tilt: TiltRecord) -> None:
    workloads = {
        doc["metadata"]["name"]
        for path in K8S.glob("*.yaml")
        if path.name != "kustomization.yaml"
        for doc in load_file_documents(path)
        if doc["kind"] in WORKLOAD_KINDS
    }
    (call,) = tilt.helm_calls
    workloads |= {
        doc["metadata"]["name"] for doc in render_chart(ROOT / call["values"][0]) if doc["kind"] in WORKLOAD_KINDS
    }
    # Only local manifests: KEDA's names come from its release manifest, fetched at `tilt up`.
    unknown = {options["workload"] for options in tilt.resources.values() if options["workload"]} - workloads
    assert unknown == set()
    assert all(options.get("labels") for options in tilt.resources.values())
    # Objects grouped under a new name are "<name>:<kind>" of what the chart renders.
    rendered = {
        f"{doc['metadata']['name']}:{doc['kind'].lower()}".lower() for doc in render_chart(ROOT / call["values"][0])
    }
    grouped = [obj.lower() for options in tilt.resources.values() for obj in options.get("objects", [])]
    assert grouped and set(grouped) <= rendered
    for options in tilt.resources.values():
        for dep in options.get("resource_deps", []):
            assert dep in tilt.resources or dep in tilt.local_resources or dep in workloads, dep


def test_it_forwards_the_api_grafana_and_the_rabbitmq_console(tilt: TiltRecord) -> None:
    forwards = {
        name: {forward["local"] for forward in options.get("port_forwards", [])}
        for name, options in tilt.resources.items()
    }
    assert 8000 in forwards["recordplus-api"]
    # The metrics listener, where /metrics went (the public port answers 404 for it).
    (call,) = tilt.helm_calls
    api = next(
        d for d in render_chart(ROOT / call["values"][0]) if d["kind"] == "Deployment" and d["metadata"]["name"] == "recordplus-api"
    )
    ports = {p["name"]: p["containerPort"] for p in api["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports["metrics"] in forwards["recordplus-api"]
    links = [link["url"] for link in tilt.resources["recordplus-api"]["links"]]
    assert f"http://localhost:{ports['metrics']}/metrics" in links
    assert not [url for url in links if url.startswith("http://localhost:8000/metrics")]
    assert 3000 in forwards["grafana"]
    assert 15672 in forwards["rabbitmq"]
    assert 9000 in forwards["minio"]  # presigned stream URLs point at localhost:9000


def test_it_only_talks_to_local_clusters(tilt: TiltRecord) -> None:
    assert tilt.contexts and all(
        c.startswith(("kind-", "k3d-")) or c in {"docker-desktop", "minikube", "rancher-desktop", "orbstack"}
        for c in tilt.contexts
    )


def test_it_deploys_the_release_into_the_namespace_of_k8s(tilt: TiltRecord) -> None:
    (call,) = tilt.helm_calls
    (namespace,) = [d["metadata"]["name"] for d in load_file_documents(K8S / "namespace.yaml")]
    assert call["namespace"] == namespace == NAMESPACE
    # The chart puts every object in the release namespace, so nothing lands in "default".
    documents = render_chart(ROOT / call["values"][0], namespace=call["namespace"])
    cluster_wide = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    assert {d["metadata"].get("namespace") for d in documents if d["kind"] not in cluster_wide} == {NAMESPACE}


def test_it_applies_keda_server_side_before_the_scaled_objects(tilt: TiltRecord) -> None:
    keda = tilt.local_resources["keda"]
    assert "kubectl apply --server-side -k k8s/keda" in keda["cmd"]
    assert tilt.kustomize_dirs == ["k8s"]  # KEDA is not in the client-side apply of k8s/
    scaled = [options for options in tilt.resources.values() if any(":scaledobject" in o for o in options.get("objects", []))]
    assert scaled and all("keda" in options["resource_deps"] for options in scaled)
