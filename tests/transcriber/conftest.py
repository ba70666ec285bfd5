"""Fixtures for the transcriber's tests: speech made once per session with espeak-ng."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from recordplus.transcriber import model_cache
from tests.transcriber.fixtures import (
    SENTENCES,
    build_tiny_align_model,
    concat_wavs,
    require_tools,
    require_whisperx,
    speak,
)


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def sentence_wav(speech_dir: Path) -> Path:
    """One English sentence, 16 kHz mono, after half a second of silence."""
    require_tools("espeak-ng", "ffmpeg")
    return speak(SENTENCES[0], speech_dir / "sentence.wav", lead_silence=0.5)


@pytest.fixture(scope="session")
def speech_wav(speech_dir: Path) -> Path:
    """All of SENTENCES, with pauses between them (about 15 s)."""
    require_tools("espeak-ng", "ffmpeg")
    parts = [speak(text, speech_dir / f"part{i}.wav") for i, text in enumerate(SENTENCES)]
    return concat_wavs(parts, speech_dir / "speech.wav")


@pytest.fixture(scope="session")
def tiny_align_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_whisperx()
    return build_tiny_align_model(tmp_path_factory.mktemp("align") / "model")


@pytest.fixture
def fresh_model_cache() -> Iterator[None]:
    """Tests that count model loads start from an empty per-process cache."""
    model_cache.clear()
    yield
    model_cache.clear()
