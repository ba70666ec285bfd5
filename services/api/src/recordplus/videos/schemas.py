from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class VideoCreatedOut(Schema):
    video_id: int
    public_id: str
    status: str


class MessageOut(Schema):
    message: str
    video_id: int | None = None
    status: str | None = None


class ChunkOut(Schema):
    message: str
    video_id: int
    chunk_index: int
    size: int
    checksum: str
    duplicate: bool


class UploadStatusOut(Schema):
    video_id: int
    status: str
    received: list[int]
    chunks: int
    bytes: int
    missing: list[int]
    next_index: int
    accepting_chunks: bool


class VideoOut(Schema):
    id: int
    public_id: str
    title: str
    description: str
    status: str
    error: str
    progress: float
    container: str
    video_codec: str
    audio_codec: str
    duration: float | None
    width: int | None
    height: int | None
    frame_rate: float | None
    has_audio: bool | None
    size: int | None
    content_type: str
    video_file: str | None
    thumbnail_url: str | None
    created_at: datetime
    finalized_at: datetime | None
    ready_at: datetime | None
    transcription: dict[str, Any] | None


class ErrorOut(Schema):
    message: str
    detail: Any = None
