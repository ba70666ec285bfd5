"""The Grafana dashboards: valid JSON, unique uids and panel ids, parametrised by data source
and namespace, and shipped by the chart exactly as they are in the repository."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.support import DASHBOARDS, dashboard_queries, workload

EXPECTED = {"recordplus-uploads", "recordplus-pipeline", "recordplus-transcription", "recordplus-autoscaling"}


def _boards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def test_it_has_the_four_dashboards_with_unique_uids() -> None:
    boards = _boards()
    uids = [board["uid"] for board in boards.values()]
    assert len(uids) == len(set(uids))
    assert set(uids) == EXPECTED
    for name, board in boards.items():
        assert name == f"{board['uid']}.json"
        assert board["title"].startswith("RecordPlus / ")
        assert len(board["uid"]) <= 40  # Grafana's limit


def test_it_gives_every_panel_a_unique_id_and_the_datasource_variable() -> None:
    for board in _boards().values():
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), board["uid"]
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["query"] == "prometheus"
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
                assert panel["targets"], panel["title"]


def test_it_filters_every_query_by_namespace() -> None:
    for board in _boards().values():
        for where, query in dashboard_queries(board):
            if "variable" not in where:
                assert 'namespace=~"$namespace"' in query, where


def test_it_shows_what_the_issue_asks_for() -> None:
    titles = {board["uid"]: " | ".join(p["title"] for p in board["panels"]) for board in _boards().values()}
    assert "Upload throughput" in titles["recordplus-uploads"] and "Latency" in titles["recordplus-uploads"]
    assert "Error ratio" in titles["recordplus-uploads"]
    assert "Jobs waiting and running" in titles["recordplus-pipeline"] and "Failures" in titles["recordplus-pipeline"]
    assert "audio seconds per wall second" in titles["recordplus-transcription"]
    assert (
        "Backlog in audio seconds" in titles["recordplus-transcription"]
        and "GPU workers" in titles["recordplus-transcription"]
    )
    assert "Pods by component" in titles["recordplus-autoscaling"]


def test_it_ships_them_as_a_configmap_for_the_grafana_sidecar(production: list[dict[str, Any]]) -> None:
    configmap = workload(production, "ConfigMap", "dashboards")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["namespace"] == "monitoring"
    assert configmap["metadata"]["annotations"]["grafana_folder"] == "RecordPlus"
    shipped = {name: json.loads(text) for name, text in configmap["data"].items()}
    assert shipped == _boards()
