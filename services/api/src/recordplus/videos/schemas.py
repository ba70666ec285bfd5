"""Response shapes of the videos API, filled from the models (resolvers, not hand-built dicts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema

from recordplus.videos.media_links import media_links
from recordplus.videos.models import Video

API_BASE = "/api/record/videos"


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


class TranscriptionOut(Schema):
    """The summary of the video's transcript shown in the video detail (the full document is
    GET videos/{id}/transcript)."""

    status: str
    # Fraction of the audio transcribed (0..1): moves while running, 1 when done.
    progress: float
    text: str
    language: str
    engine: str
    model: str
    error: str
    note: str


class SignedUrlsOut(Schema):
    """Short-lived signed URLs of the video's files: they work without a token (for `<video src>`,
    `<img src>`, `<track src>`) until `expires_at` (unix seconds; MEDIA_URL_TTL_SECONDS from
    now). None for what the video does not have yet."""

    expires_at: int
    stream: str | None
    thumbnail: str | None
    original: str | None
    # The transcript as vtt, srt, txt and json, once it is done.
    transcript: dict[str, str] | None


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
    transcription: TranscriptionOut | None
    signed_urls: SignedUrlsOut

    @staticmethod
    def resolve_video_file(obj: Video, context: dict[str, Any]) -> str | None:
        if obj.status != Video.Status.READY:
            return None
        return context["request"].build_absolute_uri(f"{API_BASE}/{obj.pk}/stream_video/")

    @staticmethod
    def resolve_thumbnail_url(obj: Video, context: dict[str, Any]) -> str | None:
        if not obj.thumbnail_key:
            return None
        return context["request"].build_absolute_uri(f"{API_BASE}/{obj.pk}/thumbnail")

    @staticmethod
    def resolve_signed_urls(obj: Video, context: dict[str, Any]) -> dict[str, Any]:
        return media_links(context["request"], obj)

    @staticmethod
    def resolve_transcription(obj: Video) -> Any:
        # The reverse one-to-one by name (None until a transcript is requested): the videos
        # app does not import the transcripts app.
        return getattr(obj, "transcript", None)


class ErrorOut(Schema):
    message: str
    detail: Any = None
