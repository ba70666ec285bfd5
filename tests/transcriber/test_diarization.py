"""Diarization (off by default): needs a token, and labels segments and words with speakers.

No diarization pipeline can be had offline, so the pyannote pipeline is replaced by a fixed
set of speaker turns; WhisperX's own speaker assignment and our mapping back run for real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.engines import load_engine
from recordplus.transcriber.errors import ConfigurationError
from recordplus.transcriber.words import place_words
from recordplus.transcripts.records import Segment
from recordplus.transcriber.runner import transcribe_wav
from tests.transcriber.fixtures import BUNDLED_NLTK_DATA

pytestmark = pytest.mark.whisperx


def _settings(align: Path, **overrides: object) -> TranscribeSettings:
    return TranscribeSettings(
        engine="whisperx", threads=2, batch_size=4, align_model=str(align), nltk_data=str(BUNDLED_NLTK_DATA),
        **overrides,  # type: ignore[arg-type]
    )  # fmt: skip


def test_it_requires_a_token_to_diarize(tiny_align_model: Path) -> None:
    with pytest.raises(ConfigurationError, match="HF_TOKEN"):
        load_engine(_settings(tiny_align_model, diarize=True))


def test_it_labels_segments_and_words_with_speakers(tiny_align_model: Path, sentence_wav: Path) -> None:
    import pandas as pd

    engine = load_engine(_settings(tiny_align_model))
    turns = pd.DataFrame({"start": [0.0, 2.0], "end": [2.0, 10.0], "speaker": ["SPEAKER_00", "SPEAKER_01"]})
    segments = [
        Segment(0.2, 1.8, "hello there", place_words([{"word": "hello", "start": 0.2, "end": 0.8, "score": 0.9},
                                                      {"word": "there", "start": 0.9, "end": 1.8, "score": 0.9}], 0.2, 1.8)),
        Segment(2.5, 4.0, "general kenobi", place_words([], 2.5, 4.0, "general kenobi")),
    ]  # fmt: skip
    original = engine._diarizer
    engine._diarizer = lambda samples, **kwargs: turns
    try:
        labelled = engine.diarize(np.zeros(16000 * 5, np.float32), segments)
        # The runner calls it when DIARIZE is on and keeps the labels in the schema.
        result = transcribe_wav(sentence_wav, engine, _settings(tiny_align_model, diarize=True, hf_token="x"))
    finally:
        engine._diarizer = original
    assert [s.speaker for s in labelled] == ["SPEAKER_00", "SPEAKER_01"]
    assert [w.speaker for w in labelled[0].words] == ["SPEAKER_00", "SPEAKER_00"]
    assert labelled[1].words[0].speaker == "SPEAKER_01"
    assert labelled[0].to_dict()["speaker"] == "SPEAKER_00"
    assert result.segments and all(s.speaker in ("SPEAKER_00", "SPEAKER_01") for s in result.segments)
