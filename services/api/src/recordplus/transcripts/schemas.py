"""Shapes of the transcript API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from recordplus.transcripts.models import Transcript
from recordplus.transcripts.selectors import FORMATS


class WordOut(Schema):
    word: str
    start: float
    end: float
    score: float | None = None
    # True when the engine could not place the word itself and its times come from neighbours.
    interpolated: bool = False
    speaker: str | None = None


class SegmentOut(Schema):
    start: float
    end: float
    text: str
    words: list[WordOut]
    speaker: str | None = None


class TranscriptOut(Schema):
    video_id: int
    status: str
    language: str
    engine: str
    model: str
    text: str
    note: str
    error: str
    audio_seconds: float | None
    wall_seconds: float | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    segments: list[SegmentOut]
    # URL of each format of this transcript (the same endpoint with ?format=).
    formats: dict[str, str]

    @staticmethod
    def resolve_segments(obj: Transcript) -> list[Any]:
        return obj.segments or []

    @staticmethod
    def resolve_formats(obj: Transcript) -> dict[str, str]:
        base = f"/api/record/videos/{obj.video_id}/transcript"
        return {fmt: f"{base}?format={fmt}" for fmt in FORMATS}


class TranscriptRequestedOut(Schema):
    message: str
    video_id: int
    status: str
