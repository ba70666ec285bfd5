"""The light engine: faster-whisper directly (CTranslate2, no torch). Plain module.

Used on laptops (the embedded default): it installs with a plain `uv sync`, runs the same
CTranslate2 models as WhisperX, and gives word times from its own cross-attention alignment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.errors import ModelUnavailable
from recordplus.transcriber.model_location import WhisperModelRef
from recordplus.transcriber.words import clean_text, place_words
from recordplus.transcripts.records import Segment

logger = logging.getLogger(__name__)


class FasterWhisperEngine:
    """Whisper through faster-whisper, with its word timestamps and Silero VAD filtering."""

    name = "faster-whisper"

    def __init__(self, settings: TranscribeSettings, ref: WhisperModelRef, device: str, compute_type: str) -> None:
        from faster_whisper import WhisperModel

        self.settings = settings
        self.model_label = ref.label
        self.device = device
        try:
            self.model = WhisperModel(
                ref.source,
                device=device,
                compute_type=compute_type,
                cpu_threads=settings.cpu_threads,
                download_root=ref.download_root,
                local_files_only=True,  # never fetch weights at run time
            )
        except Exception as exc:  # faster-whisper raises several types for a missing model
            raise ModelUnavailable(f"Whisper model {ref.label!r} cannot be loaded offline: {exc}") from exc
        self.default_language = settings.language or ("en" if ref.english_only else None)

    def transcribe(
        self,
        samples: np.ndarray,
        language: str | None = None,
        on_progress: Callable[[float], None] | None = None,
        *,
        draft: bool = False,
    ) -> tuple[str, list[Segment]]:
        """Transcribe one window (times from its start); returns (language, segments).
        `draft`: the live provisional caption's cheap pass (see `Engine.transcribe`)."""
        # A draft decodes greedily, once (no temperature fallback), without timestamp tokens
        # or the cross-attention word alignment: a fraction of a full pass's decoder work.
        options = (
            {"beam_size": 1, "word_timestamps": False, "without_timestamps": True, "temperature": 0.0}
            if draft
            else {"beam_size": self.settings.beam_size, "word_timestamps": True}
        )
        pieces, info = self.model.transcribe(
            samples,
            language=language or self.default_language,
            vad_filter=self.settings.vad_filter,
            # Conditioning on the previous window's text makes tiny models loop on repeats.
            condition_on_previous_text=False,
            **options,
        )
        segments = []
        for piece in pieces:  # a generator: decoding happens while iterating
            if on_progress is not None:
                on_progress(float(piece.end))
            text = clean_text(piece.text)
            raw = [
                {"word": w.word, "start": w.start, "end": w.end, "score": w.probability}
                for w in (piece.words or [])
            ]
            if not text:
                continue
            segments.append(Segment(piece.start, piece.end, text, place_words(raw, piece.start, piece.end, text)))
        return info.language, segments
