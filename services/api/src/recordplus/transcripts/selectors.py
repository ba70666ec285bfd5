"""Reads for transcripts."""

from __future__ import annotations

from dataclasses import dataclass
from recordplus.core.errors import Conflict, NotFound
from recordplus.core.storage import get_store, keys
from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video

FORMATS = {
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
}


def transcript_get_for_video(video: Video) -> Transcript:
    """The video's transcript; 404 when none was requested yet."""
    transcript = Transcript.objects.filter(video=video).first()
    if transcript is None:
        raise NotFound("this video has no transcript yet", {"video_id": video.pk})
    return transcript


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
    key = keys.transcript(video.public_id, fmt)
    store = get_store()
    if not store.exists(key):
        raise NotFound(f"the {fmt} file of this transcript is missing; request a new transcription")
    body = store.read_bytes(key)
    return TranscriptDocument(body=body, content_type=FORMATS[fmt], filename=f"video-{video.pk}.{fmt}")


def transcripts_unfinished() -> int:
    """How many transcripts are waiting or running (for health pages and tests)."""
    return Transcript.objects.filter(status__in=[Transcript.Status.PENDING, Transcript.Status.RUNNING]).count()
