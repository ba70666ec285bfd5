"""Fixtures of the live-transcription tests: the browser tools, the spoken script, and stacks
whose settle window is so long that waiting for it would time every test out (a video that is
`ready` at all was assembled without it).

Both stacks run the light engine (faster-whisper with the bundled tiny.en, 2 threads): the
WhisperX engine the shared cluster stack would pick here aligns with a randomly initialised
model (tests/transcriber/fixtures.py), whose word times mean nothing, and these tests check
word times.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import (
    ROOT,
    Stack,
    fresh_postgres_database,
    fresh_rabbitmq_vhost,
    make_cluster_stack,
    make_embedded_stack,
)
from tests.live_e2e.live import Speech, make_speech
from tests.needs import require
from tests.transcriber.fixtures import require_tools

# Longer than any wait in these tests: honouring it would fail them.
SETTLE_SECONDS = 600
LIVE_SETTINGS = {
    "FINALIZE_SETTLE_SECONDS": str(SETTLE_SECONDS),
    "TRANSCRIBE_ENGINE": "faster-whisper",
    "WHISPER_THREADS": "2",
}


@dataclass(frozen=True)
class BrowserTools:
    node: str
    chromium: str


@pytest.fixture(scope="session")
def browser_tools() -> BrowserTools:
    """node, Debian's chromium and the installed playwright-core (fail under CI if absent)."""
    node, chromium = shutil.which("node"), shutil.which("chromium")
    missing = [name for name, path in (("node", node), ("chromium", chromium)) if path is None]
    if not (ROOT / "node_modules" / "playwright-core" / "package.json").is_file():
        missing.append(f"node_modules/playwright-core (npm ci in {ROOT})")
    require(not missing, "the live browser test needs: " + ", ".join(missing))
    assert node is not None and chromium is not None
    return BrowserTools(node=node, chromium=os.path.realpath(chromium))


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """The script said by espeak-ng: about 70 s, 14 sentences with pauses between them."""
    require_tools("espeak-ng", "ffmpeg", "ffprobe")
    return make_speech(tmp_path_factory.mktemp("live-speech"))


def live_stack(mode: str, workdir: Path, moto_url: str | None = None, **extra: str) -> Iterator[Stack]:
    """A stack of `mode` with LIVE_SETTINGS (and `extra`), stopped afterwards. Cluster: its own
    database and virtual host, moto's S3, the shared conftest's worker."""
    # A hung worker dumps every thread's stack on SIGABRT (kill -ABRT), for the report.
    settings = {**LIVE_SETTINGS, "PYTHONFAULTHANDLER": "1", **extra}
    if mode == "embedded":
        stack = make_embedded_stack(workdir, **settings)
        try:
            yield stack
        finally:
            stack.stop()
        return
    assert moto_url is not None
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        stack = make_cluster_stack(workdir, database, broker, moto_url, **settings)
        try:
            yield stack
        finally:
            stack.stop()
