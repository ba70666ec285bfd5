"""Transcribe one WAV file with one engine, window by window. Plain module: no Django, no Dramatiq."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from recordplus.transcriber.audio import iter_windows, wav_duration
from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.engines import Engine, engine_turn
from recordplus.transcripts.records import Segment, TranscriptResult

logger = logging.getLogger(__name__)

NO_SPEECH_NOTE = "no speech was detected in the audio"


def transcribe_wav(
    path: Path, engine: Engine, settings: TranscribeSettings, on_progress: Callable[[float], None] | None = None
) -> TranscriptResult:
    """Run `engine` over a 16 kHz mono WAV and return the whole transcript; `on_progress` gets
    the fraction of the audio transcribed so far (0..1, never going back) as it goes.

    The language is detected on the first window (unless WHISPER_LANGUAGE is set) and reused
    for the rest, so a long recording keeps one language and skips re-detection.
    """
    started = time.perf_counter()
    audio_seconds = wav_duration(path)
    language = settings.language
    segments: list[Segment] = []
    for window in iter_windows(path, settings.window_seconds):
        report = None
        if on_progress is not None and audio_seconds > 0:
            report = _fraction_reporter(on_progress, window.offset, audio_seconds)
        with engine_turn():  # windows of other jobs in this process interleave between ours
            detected, found = engine.transcribe(window.samples, language, on_progress=report)
        language = language or detected
        segments.extend(segment.shifted(window.offset) for segment in found)
        logger.debug("window at %.1fs: %d segments", window.offset, len(found))
    notes = []
    alignment_problem = getattr(engine, "alignment_problem", None)
    if alignment_problem and language and alignment_problem(language):
        notes.append(f"word times not force-aligned: {alignment_problem(language)}")
    if settings.diarize and hasattr(engine, "diarize") and segments:
        segments = engine.diarize(_read_all(path), segments)
    if not segments:
        notes.append(NO_SPEECH_NOTE)
    return TranscriptResult(
        engine=engine.name,
        model=engine.model_label,
        language=language or "",
        segments=segments,
        audio_seconds=audio_seconds,
        wall_seconds=time.perf_counter() - started,
        note="; ".join(notes),
    )


def _read_all(path: Path) -> np.ndarray:
    """The whole recording in memory: only diarization needs it (speaker labels must be global)."""
    return np.concatenate([w.samples for w in iter_windows(path)]) if wav_duration(path) else np.zeros(0, np.float32)


def _fraction_reporter(on_progress: Callable[[float], None], offset: float, total: float) -> Callable[[float], None]:
    """Turn an engine's seconds-into-this-window into the fraction of the whole audio."""

    def report(seconds: float) -> None:
        on_progress(min(max((offset + seconds) / total, 0.0), 1.0))

    return report
