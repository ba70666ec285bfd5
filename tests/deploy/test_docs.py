"""docs/operations.md lists every metric the code exports, every alert the chart ships and every
dashboard; docs/deploy.md covers the kind try-out, helm (minimal and production values) and tilt."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.support import DASHBOARDS, ROOT, exported_metric_names


def test_it_lists_every_exported_metric() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    families = set()
    for name in exported_metric_names():
        if name.endswith("_created"):
            continue
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and f"{name.removesuffix(suffix)}_bucket" in exported_metric_names():
                name = name.removesuffix(suffix)
        families.add(name)
    assert {name for name in families if f"`{name}`" not in text} == set()


def test_it_lists_every_alert_and_dashboard(production: list[dict[str, Any]]) -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    (rule,) = [d for d in production if d["kind"] == "PrometheusRule"]
    alerts = {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {alert for alert in alerts if f"`{alert}`" not in text} == set()
    uids = {json.loads(path.read_text())["uid"] for path in DASHBOARDS.glob("*.json")}
    assert {uid for uid in uids if f"`{uid}`" not in text} == set()


def test_it_explains_deploying_and_developing() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    for needle in (
        "## Try it on kind",
        "ci/kind-values.yaml",
        "kind load image-archive",
        "kubectl apply -k k8s/",
        "kubectl apply --server-side -k k8s/keda",
        "port-forward svc/recordplus-api-metrics",
        "## Install with minimal values",
        "## Production values",
        "## Develop with Tilt",
        "tilt up",
        "ci/minimal-values.yaml",
        "ci/production-values.yaml",
        "existingSecret",
        "helm test",
    ):
        assert needle in text, needle


def test_it_offers_the_kind_values_as_the_try_out() -> None:
    """The README's try-out works as written: the kind values, not the placeholder hosts of
    ci/minimal-values.yaml (which no migration hook can reach)."""
    readme = (ROOT / "README.md").read_text()
    deploy = readme.split("## Deploy", 1)[1].split("\n## ", 1)[0]
    assert "-f charts/recordplus/ci/kind-values.yaml" in deploy
    assert "-f charts/recordplus/ci/minimal-values.yaml" not in deploy
    assert "helm test recordplus -n recordplus" in deploy
    assert "docs/deploy.md#try-it-on-kind" in deploy
    text = (ROOT / "docs" / "deploy.md").read_text()
    assert "works on a dev cluster as is" not in text  # the old promise the defaults broke
