"""Shapes of the transcript API."""

from __future__ import annotations

from datetime import datetime

from ninja import Schema


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


class TranscriptRequestedOut(Schema):
    message: str
    video_id: int
    status: str
