"""Reads the web app's pages need: the library, one video for its viewer, the transcript's words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from recordplus.core.errors import NotFound
from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video
from recordplus.videos.selectors import video_list_for_user

LIBRARY_LIMIT = 200


def library(auth: Any, query: str = "") -> QuerySet[Video]:
    """The viewer's recordings, newest first; `query` matches the title or the transcript text."""
    videos = video_list_for_user(auth)
    query = query.strip()
    if query:
        videos = videos.filter(Q(title__icontains=query) | Q(transcript__text__icontains=query))
    return videos[:LIBRARY_LIMIT]


def video_for_viewer(auth: Any, public_id: str) -> Video:
    """The viewer's video by its public id; NotFound for any other (never say whose it is)."""
    video = video_list_for_user(auth).filter(public_id=public_id).first()
    if video is None:
        raise NotFound("no such recording")
    return video


@dataclass(frozen=True)
class Stage:
    """Where a recording is, in words a user reads: `key` for styling, `label`, and whether the
    page should keep checking (`busy`)."""

    key: str
    label: str
    busy: bool


def stage_of(video: Video) -> Stage:
    transcript = getattr(video, "transcript", None)
    if video.status == Video.Status.UPLOADING:
        return Stage("uploading", "Uploading", True)
    if video.status == Video.Status.ASSEMBLING:
        return Stage("assembling", f"Processing {round(video.progress * 100)}%", True)
    if video.status == Video.Status.FAILED:
        return Stage("failed", f"Failed: {video.error or 'unknown reason'}", False)
    if transcript is None or transcript.status == Transcript.Status.PENDING:
        return Stage("transcribing", "Ready · transcribing", True)
    if transcript.status == Transcript.Status.RUNNING:
        return Stage("transcribing", f"Ready · transcribing {round(transcript.progress * 100)}%", True)
    if transcript.status == Transcript.Status.FAILED:
        return Stage("ready", "Ready · transcript failed", False)
    return Stage("ready", "Ready", False)


# Names for the caption track's label (the menu a viewer picks captions from).
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español", "it": "Italiano", "nl": "Nederlands", "pt": "Português"}


def language_label(transcript: Transcript | None) -> str:
    language = (transcript.language if transcript else "") or "en"
    return LANGUAGE_NAMES.get(language, language)


def transcript_of(video: Video) -> Transcript | None:
    return Transcript.objects.filter(video=video).first()


def transcript_words(transcript: Transcript | None) -> list[dict[str, Any]]:
    """Every word with its start and end (seconds), in order, for the clickable transcript."""
    if transcript is None or transcript.status != Transcript.Status.DONE:
        return []
    words: list[dict[str, Any]] = []
    for segment in transcript.segments or []:
        for word in segment.get("words") or []:
            text = str(word.get("word", "")).strip()
            if text and word.get("start") is not None:
                words.append({"w": text, "s": float(word["start"]), "e": float(word.get("end") or word["start"])})
    return words
