"""The GPU engine: WhisperX batched transcription, wav2vec2 forced alignment, optional
diarization. Plain module: no Django, no Dramatiq; imports whisperx (torch) only when built.

Offline by construction: the Whisper model comes from a local path or WHISPER_MODEL_DIR, the
pyannote VAD ships inside the whisperx wheel, the alignment model is a local Hugging Face
wav2vec2 CTC directory (ALIGN_MODEL) or a cached one, NLTK's punkt_tab comes from NLTK_DATA
(or the copy bundled with this package), and pyannote's telemetry is switched off.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from recordplus.transcriber.audio import SAMPLE_RATE
from recordplus.transcriber.config import BUNDLED_NLTK_DATA, TranscribeSettings
from recordplus.transcriber.errors import ConfigurationError, EngineUnavailable, ModelUnavailable
from recordplus.transcriber.model_location import WhisperModelRef, resolve_align_model
from recordplus.transcriber.words import clean_text, place_words
from recordplus.transcripts.records import Segment

logger = logging.getLogger(__name__)


def prepare_environment(settings: TranscribeSettings) -> None:
    """Process-wide switches WhisperX's dependencies read, and NLTK's data path."""
    # pyannote would otherwise try to send usage telemetry.
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import nltk

    # NLTK_DATA (the image's real punkt_tab) first, the bundled minimal English one after it.
    entries = [e for e in settings.nltk_data.split(os.pathsep) if e] + [str(BUNDLED_NLTK_DATA)]
    for entry in reversed(entries):
        if entry not in nltk.data.path:
            nltk.data.path.insert(0, entry)


def ensure_punkt(language: str) -> None:
    """Make sure `whisperx.align` finds Punkt parameters for `language`.

    WhisperX falls back to `nltk.download` when they are missing, which cannot work offline and
    would fail the job. When no parameters are installed for the language, neutral ones (no
    abbreviations: split at sentence-final punctuation) are written to a cache directory on
    NLTK's path instead, with a warning.
    """
    import nltk
    from whisperx.utils import PUNKT_LANGUAGES

    name = PUNKT_LANGUAGES.get(language, "english")
    try:
        nltk.data.find(f"tokenizers/punkt_tab/{name}/")
        return
    except LookupError:
        pass
    root = Path(tempfile.gettempdir()) / "recordplus-nltk-data"
    target = root / "tokenizers" / "punkt_tab" / name
    target.mkdir(parents=True, exist_ok=True)
    for file_name in ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab"):
        (target / file_name).touch()
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))
    logger.warning("no punkt_tab for %r on NLTK_DATA; using neutral sentence splitting", name)


class WhisperXEngine:
    """Whisper through WhisperX: VAD-cut batches, then forced alignment of every word."""

    name = "whisperx"

    def __init__(self, settings: TranscribeSettings, ref: WhisperModelRef, device: str, compute_type: str) -> None:
        try:
            prepare_environment(settings)
            import whisperx
        except ImportError as exc:
            raise EngineUnavailable(
                "TRANSCRIBE_ENGINE=whisperx but WhisperX is not installed (uv sync --extra whisperx)"
            ) from exc
        local_pipeline = bool(settings.diarize_model) and Path(settings.diarize_model).is_dir()
        if settings.diarize and not settings.hf_token and not local_pipeline:
            raise ConfigurationError("DIARIZE=true needs HF_TOKEN (or DIARIZE_MODEL pointing at a local pipeline)")
        self._whisperx = whisperx
        self.settings = settings
        self.model_label = ref.label
        self.device = device
        self.default_language = settings.language or ("en" if ref.english_only else None)
        try:
            self.pipeline = whisperx.load_model(
                ref.source,
                device,
                compute_type=compute_type,
                language=self.default_language,
                vad_method=settings.vad_method,
                download_root=ref.download_root,
                local_files_only=True,
                threads=settings.threads or 4,
                asr_options={"beam_size": settings.beam_size},
            )
        except Exception as exc:
            raise ModelUnavailable(f"WhisperX could not load {ref.label!r} offline: {exc}") from exc
        # WhisperX's pipeline swaps its tokenizer and options per call: one call at a time per
        # process (worker threads share this engine; a GPU pod runs one job anyway).
        self._lock = threading.Lock()
        self._align_models: dict[str, tuple[Any, dict] | None] = {}
        self._align_problems: dict[str, str] = {}
        self._diarizer: Any = None

    # --- alignment -------------------------------------------------------------------------
    def _align_model(self, language: str) -> tuple[Any, dict] | None:
        """The alignment model for `language`, loaded once; None (with a reason) if unavailable."""
        if language not in self._align_models:
            name, cache_dir = resolve_align_model(self.settings.align_model, self.settings.align_model_dir)
            try:
                self._align_models[language] = self._whisperx.load_align_model(
                    language_code=language,
                    device=self.device,
                    model_name=name,
                    model_dir=cache_dir,
                    model_cache_only=True,
                )
            except Exception as exc:  # ValueError for unknown languages, OSError for missing files
                logger.warning("no alignment model for %r: %s", language, exc)
                self._align_models[language] = None
                self._align_problems[language] = f"no alignment model for language {language!r} (set ALIGN_MODEL)"
        return self._align_models[language]

    def alignment_problem(self, language: str) -> str:
        """Why words of `language` were not aligned ('' when they were)."""
        return self._align_problems.get(language, "")

    def transcribe(
        self,
        samples: np.ndarray,
        language: str | None = None,
        on_progress: Callable[[float], None] | None = None,
        *,
        draft: bool = False,
    ) -> tuple[str, list[Segment]]:
        """Transcribe and align one window (times from its start); returns (language, segments).
        WhisperX decodes a window in one batched call, so progress comes once per window.
        `draft` (a live provisional caption) skips the forced alignment; the batched GPU
        decoding keeps the pipeline's options (they are fixed when it is loaded)."""
        with self._lock:
            found = self._transcribe(samples, language, align_words=not draft)
        if on_progress is not None:
            on_progress(len(samples) / SAMPLE_RATE)
        return found

    def transcribe_many(self, windows: list[tuple[np.ndarray, str | None]]) -> list[tuple[str, list[Segment]]]:
        """Transcribe and align several windows — of different recordings — with their speech
        chunks decoded together, `batch_size` at a time: what a GPU transcriber does with the
        windows of many live recordings. Each window is cut at its own VAD pauses (a chunk never
        spans two windows), so every window's result is what `transcribe` gives it alone, times
        from its start; returns (language, segments) per window, in order."""
        with self._lock:
            languages = [language or self.default_language or self.pipeline.detect_language(samples)
                         for samples, language in windows]  # fmt: skip
            results: list[dict[str, Any] | None] = [None] * len(windows)
            for language in dict.fromkeys(languages):
                group = [i for i, found in enumerate(languages) if found == language]
                for i, segments in zip(group, self._recognise_together([windows[i][0] for i in group], language)):
                    results[i] = {"segments": segments, "language": language}
            return [self._aligned(result, samples, language, align_words=True)
                    for (samples, _), language, result in zip(windows, languages, results)]  # fmt: skip

    def _recognise_together(self, windows: list[np.ndarray], language: str) -> list[list[dict[str, Any]]]:
        """WhisperX's own steps — VAD chunks of at most 30 s, then batched decoding without
        timestamps — over the chunks of all `windows` at once (one language)."""
        from faster_whisper.tokenizer import Tokenizer
        from whisperx.vads import Pyannote, Vad

        pipeline = self.pipeline
        vad = pipeline.vad_model
        chunks: list[tuple[int, float, float]] = []  # (window, start s, end s)
        for number, samples in enumerate(windows):
            if isinstance(vad, Vad):
                waveform, merge = vad.preprocess_audio(samples), vad.merge_chunks
            else:
                waveform, merge = Pyannote.preprocess_audio(samples), Pyannote.merge_chunks
            found = merge(
                vad({"waveform": waveform, "sample_rate": SAMPLE_RATE}),
                30,
                onset=pipeline._vad_params["vad_onset"],
                offset=pipeline._vad_params["vad_offset"],
            )
            chunks.extend((number, float(c["start"]), float(c["end"])) for c in found)
        tokenizer = pipeline.tokenizer
        if tokenizer is None or tokenizer.language_code != language or tokenizer.task != "transcribe":
            pipeline.tokenizer = Tokenizer(
                pipeline.model.hf_tokenizer, pipeline.model.model.is_multilingual, task="transcribe", language=language
            )
        inputs = ({"inputs": windows[n][int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)]} for n, a, b in chunks)
        out: list[list[dict[str, Any]]] = [[] for _ in windows]
        batch = self.settings.batch_size
        try:
            for (number, start, end), decoded in zip(chunks, pipeline(inputs, batch_size=batch, num_workers=0)):
                text = decoded["text"][0] if batch in (0, 1) and isinstance(decoded["text"], list) else decoded["text"]
                out[number].append({"text": text, "start": round(start, 3), "end": round(end, 3)})
        finally:
            if pipeline.preset_language is None:
                pipeline.tokenizer = None  # as WhisperX leaves it: the next call detects again
        return out

    def _transcribe(
        self, samples: np.ndarray, language: str | None, *, align_words: bool = True
    ) -> tuple[str, list[Segment]]:
        result = self.pipeline.transcribe(
            samples, batch_size=self.settings.batch_size, language=language or self.default_language
        )
        return self._aligned(result, samples, language, align_words=align_words)

    def _aligned(
        self, result: dict[str, Any], samples: np.ndarray, language: str | None, *, align_words: bool
    ) -> tuple[str, list[Segment]]:
        """Segments of a recognised window, each word force-aligned (when a model for the
        language exists and `align_words`)."""
        detected = result.get("language") or language or self.default_language or "en"
        align = self._align_model(detected) if align_words else None
        if align is not None:
            ensure_punkt(detected)
        segments: list[Segment] = []
        for raw in result["segments"]:
            text = clean_text(raw.get("text", ""))
            if not text:
                continue
            start, end = float(raw["start"]), float(raw["end"])
            if align is None:
                segments.append(Segment(start, end, text, place_words([], start, end, text)))
                continue
            model, metadata = align
            aligned = self._whisperx.align(
                [raw], model, metadata, samples, self.device,
                interpolate_method=self.settings.interpolate_method, return_char_alignments=False,
            )  # fmt: skip
            subsegments = aligned.get("segments") or []
            if not any(sub.get("words") for sub in subsegments):
                # Alignment gave up on this segment: keep its text, spread its words, mark them.
                segments.append(Segment(start, end, text, place_words([], start, end, text)))
                continue
            for sub in subsegments:
                sub_text = clean_text(str(sub.get("text", "")))
                if not sub_text:
                    continue
                sub_start = _finite(sub.get("start"), start)
                sub_end = _finite(sub.get("end"), end)
                # Aligned sentence bounds can drift outside the VAD segment; keep them inside.
                sub_start = min(max(sub_start, start), end)
                sub_end = min(max(sub_end, sub_start), end)
                words = place_words(list(sub.get("words") or []), sub_start, sub_end, sub_text)
                segments.append(Segment(sub_start, sub_end, sub_text, words))
        return detected, segments

    # --- diarization -----------------------------------------------------------------------
    def diarize(self, samples: np.ndarray, segments: list[Segment]) -> list[Segment]:
        """Label segments and words with speakers (pyannote through WhisperX)."""
        with self._lock:
            return self._diarize(samples, segments)

    def _diarize(self, samples: np.ndarray, segments: list[Segment]) -> list[Segment]:
        if self._diarizer is None:
            from whisperx.diarize import DiarizationPipeline

            try:
                self._diarizer = DiarizationPipeline(
                    model_name=self.settings.diarize_model or None,
                    token=self.settings.hf_token or None,
                    device=self.device,
                )
            except Exception as exc:
                raise ModelUnavailable(f"diarization pipeline cannot be loaded: {exc}") from exc
        kwargs = {}
        if self.settings.min_speakers:
            kwargs["min_speakers"] = self.settings.min_speakers
        if self.settings.max_speakers:
            kwargs["max_speakers"] = self.settings.max_speakers
        turns = self._diarizer(samples, **kwargs)
        payload = {"segments": [s.to_dict() for s in segments]}
        labelled = self._whisperx.assign_word_speakers(turns, payload)
        for segment, raw in zip(segments, labelled["segments"]):
            segment.speaker = raw.get("speaker")
            for word, raw_word in zip(segment.words, raw.get("words", [])):
                word.speaker = raw_word.get("speaker")
        return segments


def _finite(value: Any, fallback: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return fallback
    return number if math.isfinite(number) else fallback
