"""docs/operations.md lists every metric the code exports, every alert the chart ships and every
dashboard; docs/deploy.md covers helm (minimal and production values) and tilt."""

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
