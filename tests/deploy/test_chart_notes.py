"""NOTES.txt tells the installer how to reach the API and warns about dev defaults."""

from __future__ import annotations

from tests.deploy.support import CHART, run_helm


def _notes(*args: str) -> str:
    result = run_helm("install", "rp", str(CHART), "--dry-run=client", "--namespace", "media", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]


def test_it_warns_when_the_dev_dependencies_are_still_configured() -> None:
    notes = _notes()
    assert "port-forward svc/rp-recordplus-api 8000:80" in notes
    assert "WARNING: database, broker or storage point at the development stack" in notes
    assert "recordplus createuser" in notes


def test_it_points_at_the_ingress_in_production() -> None:
    notes = _notes("--values", str(CHART / "ci" / "production-values.yaml"))
    assert "https://record.example.com/api/record/" in notes
    assert "WARNING" not in notes
    assert 'existing Secret "recordplus-credentials"' in notes
