"""Rendered chart documents for each values set, shared by the deployment checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deploy.support import CI_VALUES, render_chart

# "default" renders values.yaml alone; the others are the chart's ci/*-values.yaml files.
VALUES_SETS: dict[str, Path | None] = {"default": None} | {p.name.removesuffix("-values.yaml"): p for p in CI_VALUES}


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Documents of `helm template` for every values set, by set name."""
    return {name: render_chart(path) for name, path in VALUES_SETS.items()}


@pytest.fixture(scope="session")
def production(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return rendered["production"]
