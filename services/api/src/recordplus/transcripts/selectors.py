"""Reads for transcripts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recordplus.core import storage
from recordplus.core.errors import Conflict, NotFound
from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video

FORMATS = {
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
}


def transcription_summary(video: Video) -> dict[str, Any] | None:
    """What the video detail shows as `transcription` (None until one is requested)."""
    transcript = Transcript.objects.filter(video=video).first()
    if transcript is None:
        return None
    return {
        "status": transcript.status,
        "text": transcript.text,
        "language": transcript.language,
        "engine": transcript.engine,
        "model": transcript.model,
        "error": transcript.error,
        "note": transcript.note,
    }


def transcript_get_for_video(video: Video) -> Transcript:
    """The video's transcript; 404 when none was requested yet."""
    transcript = Transcript.objects.filter(video=video).first()
    if transcript is None:
        raise NotFound("this video has no transcript yet", {"video_id": video.pk})
    return transcript


def transcript_payload(transcript: Transcript, *, base_url: str) -> dict[str, Any]:
    """The JSON view of a transcript, with a URL for each document format."""
    return {
        "video_id": transcript.video_id,
        "status": transcript.status,
        "language": transcript.language,
        "engine": transcript.engine,
        "model": transcript.model,
        "text": transcript.text,
        "note": transcript.note,
        "error": transcript.error,
        "audio_seconds": transcript.audio_seconds,
        "wall_seconds": transcript.wall_seconds,
        "attempts": transcript.attempts,
        "created_at": transcript.created_at,
        "updated_at": transcript.updated_at,
        "started_at": transcript.started_at,
        "finished_at": transcript.finished_at,
        "segments": transcript.segments or [],
        "formats": {fmt: f"{base_url}?format={fmt}" for fmt in FORMATS},
    }


@dataclass(frozen=True)
class TranscriptDocument:
    body: bytes
    content_type: str
    filename: str


def transcript_document(transcript: Transcript, fmt: str) -> TranscriptDocument:
    """The stored WebVTT, SRT or text file of a finished transcript (409 until it is done)."""
    if transcript.status != Transcript.Status.DONE:
        raise Conflict(f"the transcript is {transcript.status}, not done yet", {"status": transcript.status})
    video = transcript.video
    key = f"{video.storage_prefix}transcript.{fmt}"
    if not storage.exists(key):
        raise NotFound(f"the {fmt} file of this transcript is missing; request a new transcription")
    size = storage.size(key)
    body = b"".join(storage.iter_range(key, 0, size - 1)) if size else b""
    return TranscriptDocument(body=body, content_type=FORMATS[fmt], filename=f"video-{video.pk}.{fmt}")


def transcripts_unfinished() -> int:
    """How many transcripts are waiting or running (for health pages and tests)."""
    return Transcript.objects.filter(status__in=[Transcript.Status.PENDING, Transcript.Status.RUNNING]).count()
