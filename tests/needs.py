"""The one rule for tests that need a service or tool: under CI=true a missing one fails the
run (a CI that skips what it cannot reach proves nothing); elsewhere it skips, with the reason,
so a developer without e.g. RabbitMQ can still run the rest."""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Fail under CI, skip elsewhere, when `condition` is false."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required for this test but missing: {reason}")
    pytest.skip(reason)
