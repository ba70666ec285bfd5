"""tests/needs.py's `substitute`: a stand-in for a missing part fails the run under CI=true and
is announced (warning + summary line) everywhere else.

Each test loads its own copy of the module with CI set as the case needs, so the rule is read
from the environment exactly as a real run reads it (IN_CI is computed at import), and the
session's own SUBSTITUTIONS list is left alone.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import pytest

NEEDS = Path(__file__).with_name("needs.py")


def fresh_needs(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> ModuleType:
    """A new copy of tests/needs.py imported with CI=`ci` (unset when None)."""
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    spec = importlib.util.spec_from_file_location("needs_under_test", NEEDS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("ci", ["true", "TRUE", "True"])
def test_it_fails_a_stand_in_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    """Catches a CI run that goes green on a stand-in (e.g. faster-whisper in the cluster
    worker instead of WhisperX): under CI=true a missing part must fail the test, naming it,
    and record nothing as substituted."""
    needs = fresh_needs(monkeypatch, ci)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # under CI it must fail, not merely warn
        with pytest.raises(pytest.fail.Exception) as failed:
            needs.substitute(False, "WhisperX (uv sync --extra whisperx)", "faster-whisper")
    assert "WhisperX (uv sync --extra whisperx)" in str(failed.value)
    assert "stand-in is not accepted under CI" in str(failed.value)
    assert needs.SUBSTITUTIONS == []


@pytest.mark.parametrize("ci", [None, "", "false", "1"])
def test_it_warns_and_records_a_stand_in_outside_ci(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    """Catches a silent substitution outside CI (a green local run that hides which engine ran):
    the call returns False so the caller configures the stand-in, warns with SubstitutedPart,
    and records one summary line naming both parts — once, however often it is asked."""
    needs = fresh_needs(monkeypatch, ci)
    with pytest.warns(needs.SubstitutedPart) as caught:
        assert needs.substitute(False, "WhisperX", "faster-whisper in the cluster worker") is False
    assert len(caught) == 1
    line = str(caught[0].message)
    assert "WhisperX is missing here" in line and "faster-whisper in the cluster worker runs instead" in line
    assert needs.SUBSTITUTIONS == [line]
    # Asked again (another stack, another test): still False, no second line or warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert needs.substitute(False, "WhisperX", "faster-whisper in the cluster worker") is False
    assert needs.SUBSTITUTIONS == [line]


@pytest.mark.parametrize("ci", [None, "true"])
def test_it_accepts_an_available_part_in_every_mode(monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    """Catches a rule that fails or warns although the real part is there (CI would fail for
    nothing, or every local run would claim a substitution)."""
    needs = fresh_needs(monkeypatch, ci)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert needs.substitute(True, "WhisperX", "faster-whisper") is True
    assert needs.SUBSTITUTIONS == []
