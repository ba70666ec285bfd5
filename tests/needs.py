"""The one rule for tests that need a service or tool: under CI=true a missing one fails the
run (a CI that skips what it cannot reach proves nothing); elsewhere it skips, with the reason,
so a developer without e.g. RabbitMQ can still run the rest.

Where a missing part is *replaced* rather than skipped (the cluster stack's worker runs
faster-whisper when WhisperX is not installed), `substitute` makes that explicit: it fails
under CI, and elsewhere records the substitution, warns, and names it in the run's summary
(`tests/conftest.py` prints SUBSTITUTIONS), so a green run never hides which engine ran.
"""

from __future__ import annotations

import os
import warnings

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"

# What ran in place of a missing part in this session, one line each (printed at the end).
SUBSTITUTIONS: list[str] = []


class SubstitutedPart(UserWarning):
    """A test stack ran a stand-in for a part that is not installed here (never under CI)."""


def require(condition: bool, reason: str) -> None:
    """Fail under CI, skip elsewhere, when `condition` is false."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required for this test but missing: {reason}")
    pytest.skip(reason)


def substitute(available: bool, part: str, stand_in: str) -> bool:
    """True when `part` is available. Otherwise: fail under CI; elsewhere record and warn that
    `stand_in` runs instead, and return False so the caller configures the stand-in."""
    if available:
        return True
    if IN_CI:
        pytest.fail(f"required for this test but missing: {part} (a stand-in is not accepted under CI)")
    line = f"{part} is missing here: {stand_in} runs instead (install it, or run with CI=true to make this fail)"
    if line not in SUBSTITUTIONS:
        SUBSTITUTIONS.append(line)
        warnings.warn(line, SubstitutedPart, stacklevel=2)
    return False
