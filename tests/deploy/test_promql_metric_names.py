"""Every PromQL query the deployment ships — KEDA triggers, alert rules, dashboard panels —
names only metrics the code really exports (collected from its metric objects)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.support import DASHBOARDS, dashboard_queries, exported_metric_names, promql_metric_names

# Series Prometheus makes itself for every target (not exported by our code).
PROMETHEUS_SYNTHETIC = {"up"}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    names = exported_metric_names()
    assert "recordplus_http_requests_total" in names
    assert "recordplus_assembly_duration_seconds_bucket" in names
    assert "recordplus_queue_backlog_jobs" in names
    return names


def _unknown(query: str, exported: set[str]) -> set[str]:
    names = promql_metric_names(query)
    assert names, f"no metric in {query!r}"
    return names - exported - PROMETHEUS_SYNTHETIC


def test_it_reads_metric_names_out_of_promql() -> None:
    query = (
        "histogram_quantile(0.95, sum by (le, route) (rate(recordplus_http_request_duration_seconds_bucket"
        '{status=~"5..", namespace=~"$namespace"}[$__rate_interval]))) / on (route) group_left '
        "max without (state) (recordplus_queue_backlog_jobs offset 5m) > bool 2 or vector(0)"
    )
    assert promql_metric_names(query) == {
        "recordplus_http_request_duration_seconds_bucket",
        "recordplus_queue_backlog_jobs",
    }
    assert promql_metric_names('count(up{component="api"} == 1)') == {"up"}
    assert promql_metric_names('sum(rate(typo_total{a="b"}[5m]))') == {"typo_total"}


def test_it_has_no_unknown_names_in_scaledobjects(production: list[dict[str, Any]], exported: set[str]) -> None:
    queries = [t["metadata"]["query"] for d in production if d["kind"] == "ScaledObject" for t in d["spec"]["triggers"]]
    assert len(queries) == 2
    assert {q: _unknown(q, exported) for q in queries if _unknown(q, exported)} == {}


def test_it_has_no_unknown_names_in_alert_rules(production: list[dict[str, Any]], exported: set[str]) -> None:
    (rule,) = [d for d in production if d["kind"] == "PrometheusRule"]
    alerts = {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]}
    assert len(alerts) >= 8
    assert {name: _unknown(expr, exported) for name, expr in alerts.items() if _unknown(expr, exported)} == {}


def test_it_has_no_unknown_names_in_dashboards(exported: set[str]) -> None:
    problems = {}
    count = 0
    for path in sorted(DASHBOARDS.glob("*.json")):
        for where, query in dashboard_queries(json.loads(path.read_text())):
            count += 1
            if unknown := _unknown(query, exported):
                problems[where] = unknown
    assert count >= 30
    assert problems == {}


def test_it_charts_every_exported_family_somewhere(exported: set[str]) -> None:
    """A metric nobody looks at is dead weight: each family appears on a dashboard."""
    used: set[str] = set()
    for path in DASHBOARDS.glob("*.json"):
        for _, query in dashboard_queries(json.loads(path.read_text())):
            used |= promql_metric_names(query)
    families = {n.removesuffix("_created") for n in exported if not n.endswith("_created")}
    histogram_bases = {n.removesuffix("_bucket") for n in families if n.endswith("_bucket")}
    missing = {
        name
        for name in families
        if name not in used and not any(name.startswith(base) and f"{base}_bucket" in used for base in histogram_bases)
    }
    assert missing == set()
