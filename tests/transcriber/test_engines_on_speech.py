"""Both engines on real synthesised speech: same schema, sensible times, the words right.

The word error rate bound is for faster-whisper tiny.en (the bundled default) on espeak-ng's
voice, which is robotic: tiny.en gets most words, not all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from recordplus.transcriber import model_cache
from recordplus.transcriber.audio import wav_duration
from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.engines import load_engine
from recordplus.transcriber.runner import transcribe_wav
from recordplus.transcripts.records import TranscriptResult
from tests.transcriber.fixtures import BUNDLED_NLTK_DATA, SENTENCES, concat_wavs, word_error_rate

MAX_WER = 0.35


def assert_well_formed(result: TranscriptResult, audio_seconds: float) -> None:
    """Segments ordered inside the audio; words ordered, inside their segment, with times."""
    assert result.segments
    previous_start = 0.0
    for segment in result.segments:
        assert 0.0 <= segment.start <= segment.end <= audio_seconds + 0.05
        assert segment.start >= previous_start - 1e-6
        previous_start = segment.start
        assert segment.text.strip()
        assert segment.words, f"segment without words: {segment.text!r}"
        for word in segment.words:
            assert segment.start - 1e-6 <= word.start <= word.end <= segment.end + 1e-6
        for a, b in zip(segment.words, segment.words[1:]):
            assert b.start >= a.start - 1e-6
    data = result.to_dict()
    assert set(data) >= {"engine", "model", "language", "text", "segments", "audio_seconds", "wall_seconds"}


def light_settings(**overrides: object) -> TranscribeSettings:
    return TranscribeSettings(engine="faster-whisper", threads=2, **overrides)  # type: ignore[arg-type]


def test_it_transcribes_speech_with_faster_whisper(speech_wav: Path) -> None:
    settings = light_settings()
    result = transcribe_wav(speech_wav, load_engine(settings), settings)
    assert result.engine == "faster-whisper" and result.model == "tiny.en" and result.language == "en"
    assert word_error_rate(" ".join(SENTENCES), result.text) <= MAX_WER, result.text
    assert result.audio_seconds == pytest.approx(wav_duration(speech_wav))
    assert result.wall_seconds > 0 and result.speed > 0
    assert_well_formed(result, result.audio_seconds)
    # Its own word timestamps: every word placed by the engine, with a probability.
    assert all(not w.interpolated and w.score is not None for s in result.segments for w in s.words)
    # Word times match the audio: the second sentence ("Please send…") starts after the first
    # sentence and the 0.8 s pause that concat_wavs put between them.
    first_sentence = wav_duration(speech_wav.parent / "part0.wav")
    please = next(w for s in result.segments for w in s.words if w.word.lower().strip(".,") == "please")
    assert abs(please.start - (first_sentence + 0.8)) < 0.8, (please, first_sentence)
    assert result.segments[-1].end > result.audio_seconds * 0.8


def test_it_transcribes_long_audio_window_by_window(speech_wav: Path) -> None:
    # Windows of 30 s over a repeated recording: the cut lands in a pause, no words are lost.
    windowed = light_settings(window_seconds=30.0)
    long_wav = speech_wav.parent / "long.wav"
    if not long_wav.exists():
        concat_wavs([speech_wav] * 3, long_wav, gap=1.0)
    reference = " ".join(SENTENCES * 3)
    progress: list[float] = []
    result = transcribe_wav(long_wav, load_engine(windowed), windowed, on_progress=progress.append)
    assert word_error_rate(reference, result.text) <= MAX_WER, result.text
    assert_well_formed(result, result.audio_seconds)
    assert result.segments[-1].end > 40.0
    # Progress as the windows are decoded (the library's "transcribing N%"): fractions of the
    # whole audio, never backwards, past the first window, near the end at the last segment.
    assert progress and all(0.0 <= f <= 1.0 for f in progress), progress
    assert progress == sorted(progress), progress
    assert any(f > 30.0 / result.audio_seconds for f in progress), progress  # beyond window 1's offset 0
    assert progress[-1] >= result.segments[-1].end / result.audio_seconds - 0.01, (progress[-1], result.segments[-1])


def test_it_loads_the_model_once_for_many_jobs(sentence_wav: Path, fresh_model_cache: None) -> None:
    settings = light_settings()
    first = load_engine(settings)
    transcribe_wav(sentence_wav, first, settings)
    second = load_engine(settings)
    transcribe_wav(sentence_wav, second, settings)
    assert first is second
    assert sum(model_cache._loads.values()) == 1


def test_it_finds_no_speech_in_silence(tmp_path: Path) -> None:
    import wave

    path = tmp_path / "silence.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(b"\0\0" * 16000 * 3)
    settings = light_settings()
    result = transcribe_wav(path, load_engine(settings), settings)
    assert result.segments == [] and result.text == ""
    assert "no speech" in result.note


@pytest.mark.whisperx
def test_it_aligns_words_with_whisperx(speech_wav: Path, tiny_align_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYANNOTE_METRICS_ENABLED", "false")
    settings = TranscribeSettings(
        engine="whisperx", threads=2, batch_size=4, align_model=str(tiny_align_model), nltk_data=str(BUNDLED_NLTK_DATA)
    )
    engine = load_engine(settings)
    result = transcribe_wav(speech_wav, engine, settings)
    assert result.engine == "whisperx" and result.model == "tiny.en" and result.language == "en"
    # The text comes from Whisper, so it is as good as the light engine's.
    assert word_error_rate(" ".join(SENTENCES), result.text) <= MAX_WER, result.text
    assert result.note == ""  # aligned, not fallen back
    assert_well_formed(result, result.audio_seconds)
    # Forced alignment gave scores to the words it placed (the tiny model's are meaningless).
    scored = [w for s in result.segments for w in s.words if w.score is not None]
    assert scored and all(0.0 <= w.score <= 1.0 for w in scored)
    # WhisperX splits at sentence ends (punkt_tab): one segment per spoken sentence or more.
    assert len(result.segments) >= len(SENTENCES)


@pytest.mark.whisperx
def test_it_notes_when_no_alignment_model_exists_for_the_language(
    sentence_wav: Path, tiny_align_model: Path, tmp_path: Path
) -> None:
    settings = TranscribeSettings(
        engine="whisperx", threads=2, align_model=str(tmp_path / "no-such-model"), nltk_data=str(BUNDLED_NLTK_DATA)
    )
    result = transcribe_wav(sentence_wav, load_engine(settings), settings)
    assert "not force-aligned" in result.note
    words = [w for s in result.segments for w in s.words]
    assert words and all(w.interpolated for w in words)
    assert_well_formed(result, result.audio_seconds)


@pytest.mark.whisperx
def test_it_splits_sentences_offline_for_languages_without_punkt_data(tiny_align_model: Path) -> None:
    import nltk

    from recordplus.transcriber.engines.whisperx import ensure_punkt, prepare_environment

    prepare_environment(TranscribeSettings(nltk_data=str(BUNDLED_NLTK_DATA)))
    ensure_punkt("en")  # the bundled English parameters are found as they are
    assert nltk.data.find("tokenizers/punkt_tab/english/").path.startswith(str(BUNDLED_NLTK_DATA))
    ensure_punkt("sv")  # no Swedish data here: neutral parameters, never a download
    splitter = nltk.data.load("tokenizers/punkt_tab/swedish.pickle")
    assert splitter.tokenize("Hej där. Hur mår du?") == ["Hej där.", "Hur mår du?"]


@pytest.mark.whisperx
def test_whisperx_decodes_windows_of_several_recordings_in_one_batch(
    speech_wav: Path, sentence_wav: Path, tiny_align_model: Path
) -> None:
    """The live path's GPU batch (`transcribe_many`): each window gets what `transcribe` gives it
    alone — its own text, times from its own start, aligned words — though their speech chunks
    were decoded together. Catches chunks spanning two windows, results handed to the wrong
    window, times counted from the batch instead of the window."""
    import wave

    import numpy as np

    def samples(path: Path) -> np.ndarray:
        with wave.open(str(path), "rb") as wav:
            return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0

    settings = TranscribeSettings(
        engine="whisperx", threads=2, batch_size=4, align_model=str(tiny_align_model), nltk_data=str(BUNDLED_NLTK_DATA)
    )
    engine = load_engine(settings)
    windows = [samples(speech_wav), samples(sentence_wav), samples(speech_wav)[: 8 * 16000]]
    alone = [engine.transcribe(w, "en") for w in windows]
    together = engine.transcribe_many([(w, None) for w in windows])
    assert len(together) == len(windows)
    for window, (language, segments), (_, expected) in zip(windows, together, alone):
        assert language == "en"
        text, reference = " ".join(s.text for s in segments), " ".join(s.text for s in expected)
        assert word_error_rate(reference, text) <= 0.05, (text, reference)
        seconds = len(window) / 16000
        assert segments and all(0.0 <= s.start <= s.end <= seconds + 0.05 for s in segments)
        assert any(w.score is not None for s in segments for w in s.words)  # force-aligned
