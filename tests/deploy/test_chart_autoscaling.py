"""KEDA scales the workers on the database backlog (waiting AND running jobs), the GPU
transcriber down to zero and back, never from under a running job."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import VALUES_SETS
from tests.deploy.support import promql_metric_names, workload


def _env(deployment: dict[str, Any]) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container.get("env", [])}


@pytest.mark.parametrize("values_name", sorted(VALUES_SETS))
def test_it_scales_the_transcriber_to_zero_after_a_cooldown_longer_than_a_job(
    rendered: dict[str, list[dict[str, Any]]], values_name: str
) -> None:
    documents = rendered[values_name]
    scaled = workload(documents, "ScaledObject", "transcriber")
    deployment = workload(documents, "Deployment", "transcriber")
    spec = scaled["spec"]
    assert spec["minReplicaCount"] == 0
    assert spec["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "replicas" not in deployment["spec"]  # KEDA owns the count
    time_limit = int(_env(deployment)["TRANSCRIBE_TIME_LIMIT"])
    assert spec["cooldownPeriod"] > time_limit


@pytest.mark.parametrize("component, queue", [("assembler", "assemble"), ("transcriber", "transcribe")])
def test_it_triggers_on_waiting_and_running_jobs(production: list[dict[str, Any]], component: str, queue: str) -> None:
    (trigger,) = workload(production, "ScaledObject", component)["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    assert promql_metric_names(query) == {"recordplus_queue_backlog_jobs"}
    # Summed over `state` with no state filter: a running job keeps its worker alive.
    assert "sum without (state)" in query
    assert "state=" not in query
    assert f'queue="{queue}"' in query
    assert 'namespace="recordplus"' in query
    assert trigger["metadata"]["serverAddress"].startswith("http://prometheus-operated.monitoring")
    assert float(trigger["metadata"]["threshold"]) > 0


def test_it_wakes_the_transcriber_on_the_first_job(production: list[dict[str, Any]]) -> None:
    (trigger,) = workload(production, "ScaledObject", "transcriber")["spec"]["triggers"]
    assert float(trigger["metadata"]["activationThreshold"]) == 0  # any backlog > 0 activates


def test_it_scales_down_workers_slowly(production: list[dict[str, Any]]) -> None:
    for component in ("assembler", "transcriber"):
        behavior = workload(production, "ScaledObject", component)["spec"]["advanced"]["horizontalPodAutoscalerConfig"][
            "behavior"
        ]
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 600
        assert behavior["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 60}]


def test_it_drops_keda_objects_when_keda_is_off(rendered: dict[str, list[dict[str, Any]]]) -> None:
    from tests.deploy.support import CHART, load_documents, run_helm

    result = run_helm("template", "r", str(CHART), "--set", "keda.enabled=false")
    assert result.returncode == 0, result.stderr
    documents = load_documents(result.stdout)
    assert not [d for d in documents if d["kind"] == "ScaledObject"]
    assert workload(documents, "Deployment", "transcriber")["spec"]["replicas"] == 1
