"""Fixtures of the live-transcription tests: speech and WebM recordings made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.live.media import speech_wav, webm_of


@pytest.fixture(scope="session")
def live_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("live-media")


@pytest.fixture(scope="session")
def short_speech(live_media: Path) -> Path:
    """About 25 s of speech with pauses."""
    return speech_wav(live_media)


@pytest.fixture(scope="session")
def long_speech(live_media: Path) -> Path:
    """About 50 s of speech with pauses."""
    return speech_wav(live_media, repeat=2)


@pytest.fixture(scope="session")
def live_webm(live_media: Path, short_speech: Path) -> Path:
    return webm_of(short_speech, live_media / "short-live.webm", live=True)


@pytest.fixture(scope="session")
def plain_webm(live_media: Path, short_speech: Path) -> Path:
    return webm_of(short_speech, live_media / "short-plain.webm", live=False)
