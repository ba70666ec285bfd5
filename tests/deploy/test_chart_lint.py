"""`helm lint --strict` passes with the defaults and with every ci/*-values.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.conftest import VALUES_SETS
from tests.deploy.support import CHART, run_helm


@pytest.mark.parametrize("values_name", sorted(VALUES_SETS))
def test_it_lints_strictly(values_name: str) -> None:
    values: Path | None = VALUES_SETS[values_name]
    args = ["lint", "--strict", str(CHART)] + (["--values", str(values)] if values else [])
    result = run_helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_it_has_the_ci_values_sets_it_promises() -> None:
    assert {"default", "minimal", "production", "dev"} <= set(VALUES_SETS)


def test_it_refuses_values_the_schema_does_not_know() -> None:
    result = run_helm("template", "r", str(CHART), "--set", "api.replicaCuont=3")
    assert result.returncode != 0
    assert "replicaCuont" in result.stderr


def test_it_refuses_a_non_amqp_broker_url() -> None:
    result = run_helm("template", "r", str(CHART), "--set", "broker.url=redis://cache:6379/0")
    assert result.returncode != 0
    assert "broker" in result.stderr
