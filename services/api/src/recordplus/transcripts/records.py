"""The transcript as typed records: segments with words, and one finished transcription.

The transcriber's engines build these and `transcripts.services.transcript_complete` stores
them, so the record is typed once for both sides (the API never imports worker code; the
worker imports this). `to_dict()` is what the database's `segments` and the stored
`transcript.json` hold, the same schema whichever engine ran.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Times and scores are stored to the millisecond: finer is noise, and it keeps the JSON short.
DECIMALS = 3


def rounded(value: float) -> float:
    """A time or score as stored."""
    return round(value, DECIMALS)


@dataclass
class Word:
    """One word with its times (seconds from the start of the recording).

    `score` is the engine's confidence (None when it could not place the word itself);
    `interpolated` marks times borrowed from the neighbours; `speaker` is set by diarization.
    """

    word: str
    start: float
    end: float
    score: float | None = None
    interpolated: bool = False
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "word": self.word,
            "start": rounded(self.start),
            "end": rounded(self.end),
            "score": None if self.score is None else rounded(self.score),
        }
        if self.interpolated:
            out["interpolated"] = True
        if self.speaker:
            out["speaker"] = self.speaker
        return out


@dataclass
class Segment:
    """A stretch of speech (a sentence or a VAD cut) and its words, in order."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "start": rounded(self.start),
            "end": rounded(self.end),
            "text": self.text,
            "words": [w.to_dict() for w in self.words],
        }
        if self.speaker:
            out["speaker"] = self.speaker
        return out

    def shifted(self, offset: float) -> Segment:
        """The same segment `offset` seconds later (windows are transcribed from 0)."""
        return Segment(
            start=self.start + offset,
            end=self.end + offset,
            text=self.text,
            words=[
                Word(w.word, w.start + offset, w.end + offset, w.score, w.interpolated, w.speaker)
                for w in self.words
            ],
            speaker=self.speaker,
        )


@dataclass
class TranscriptResult:
    """One finished transcription, ready to be stored: which engine and model made it, the
    language, the segments, and how long the audio and the work were."""

    engine: str
    model: str
    language: str
    segments: list[Segment]
    audio_seconds: float
    wall_seconds: float = 0.0
    note: str = ""

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text).strip()

    @property
    def speed(self) -> float:
        """Audio seconds per wall second (0 when nothing was timed)."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def segments_data(self) -> list[dict[str, Any]]:
        """The segments as stored (the database's `segments`, transcript.json's)."""
        return [s.to_dict() for s in self.segments]

    def to_dict(self) -> dict[str, Any]:
        """transcript.json."""
        return {
            "engine": self.engine,
            "model": self.model,
            "language": self.language,
            "text": self.text,
            "audio_seconds": rounded(self.audio_seconds),
            "wall_seconds": rounded(self.wall_seconds),
            "note": self.note,
            "segments": self.segments_data(),
        }
