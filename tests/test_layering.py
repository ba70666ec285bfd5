"""The layering rules hold for the code, and the checker notices when one is broken."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.layering import violations

SERVICES = Path(__file__).resolve().parents[1] / "services"


def test_it_holds_for_the_code() -> None:
    assert violations(SERVICES) == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def test_it_catches_core_importing_an_app(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {
        "api/src/recordplus/core/backlog.py": "from recordplus.videos.models import Video\n",
        "api/src/recordplus/videos/models.py": "",
    })  # fmt: skip
    [problem] = violations(tree)
    assert "core is the bottom layer" in problem and "backlog.py:1" in problem


def test_it_catches_videos_importing_transcripts_inside_a_function(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {
        "api/src/recordplus/videos/services.py": "def f():\n    from recordplus.transcripts.models import Transcript\n",
        "api/src/recordplus/transcripts/models.py": "",
    })  # fmt: skip
    [problem] = violations(tree)
    assert "videos must not import transcripts" in problem


def test_it_catches_the_api_importing_worker_code(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {
        "api/src/recordplus/videos/api.py": "import recordplus.assembler.pipeline\n",
        "assembler/src/recordplus/assembler/pipeline.py": "",
    })  # fmt: skip
    [problem] = violations(tree)
    assert "never imports worker code" in problem


def test_it_catches_a_framework_free_module_importing_django(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {
        "assembler/src/recordplus/assembler/stitch.py": '"""Stitch. This module imports neither Django nor Dramatiq."""\nfrom django.conf import settings\n',
    })  # fmt: skip
    [problem] = violations(tree)
    assert "says it is framework-free" in problem


def test_it_catches_a_framework_free_module_importing_one_that_is_not(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {
        "assembler/src/recordplus/assembler/probe.py": '"""Plain module: no Django, no Dramatiq."""\nfrom recordplus.assembler.pipeline import run\n',
        "assembler/src/recordplus/assembler/pipeline.py": '"""The pipeline."""\nfrom django.db import transaction\n',
    })  # fmt: skip
    [problem] = violations(tree)
    assert "recordplus.assembler.pipeline is not" in problem


def test_it_resolves_relative_imports(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {
        "api/src/recordplus/core/health.py": "from ..videos import models\n",
        "api/src/recordplus/videos/models.py": "",
    })  # fmt: skip
    assert len(violations(tree)) == 1
