"""Reads for transcripts."""

from __future__ import annotations

from typing import Any

from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video


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
