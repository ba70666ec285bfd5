"""Every rendered document validates strictly: built-in kinds against the Kubernetes OpenAPI
schema, ScaledObject/ServiceMonitor/PodMonitor/PrometheusRule against their CRD models."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.conftest import VALUES_SETS
from tests.deploy.support import validate_document


@pytest.mark.parametrize("values_name", sorted(VALUES_SETS))
def test_it_renders_only_valid_documents(rendered: dict[str, list[dict[str, Any]]], values_name: str) -> None:
    problems = {
        f"{doc['kind']}/{doc['metadata']['name']}": issues
        for doc in rendered[values_name]
        if (issues := validate_document(doc))
    }
    assert problems == {}


def test_it_catches_a_misspelt_field_in_a_custom_resource(production: list[dict[str, Any]]) -> None:
    scaled = next(doc for doc in production if doc["kind"] == "ScaledObject")
    broken = {**scaled, "spec": {**scaled["spec"], "cooldownPeriods": 60}}
    assert validate_document(broken) == ["unknown field /spec/cooldownPeriods"]


def test_it_catches_a_misspelt_field_in_a_builtin_kind(production: list[dict[str, Any]]) -> None:
    service = next(doc for doc in production if doc["kind"] == "Service")
    broken = {**service, "spec": {**service["spec"], "selectr": {}}}
    assert validate_document(broken)


def test_it_renders_the_custom_resources_in_production(production: list[dict[str, Any]]) -> None:
    kinds = {doc["kind"] for doc in production}
    assert {"ScaledObject", "ServiceMonitor", "PodMonitor", "PrometheusRule"} <= kinds
    assert {
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
        "Job",
        "Pod",
    } <= kinds
