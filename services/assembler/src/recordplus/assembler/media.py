"""The seam between stitching and making a video playable.

make_playable() takes the stitched upload and returns what stream_video should serve, with
the media facts. This first version serves the stitched bytes as they are, typed by sniffing
their leading bytes; probing, remuxing, transcoding, thumbnails and audio come behind the
same signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class MediaRejected(Exception):
    """The upload is not a usable video; str(exc) is the reason shown to the user."""


@dataclass
class MediaOutcome:
    video_key: str
    content_type: str
    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    has_audio: bool = False
    size: int = 0
    thumbnail_key: str | None = None
    audio_key: str | None = None


def sniff_container(head: bytes) -> str | None:
    """Recognise mp4, webm and avi from their first bytes."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


CONTENT_TYPES = {"webm": "video/webm", "mp4": "video/mp4", "avi": "video/x-msvideo"}


def make_playable(
    *,
    storage: Any,
    source_key: str,
    prefix: str,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
) -> MediaOutcome:
    with storage.open(source_key, "rb") as fileobj:
        head = fileobj.read(16)
    container = sniff_container(head)
    if container is None:
        raise MediaRejected("the upload is not an mp4, webm or avi video")
    return MediaOutcome(
        video_key=source_key,
        content_type=CONTENT_TYPES[container],
        container=container,
        size=storage.size(source_key),
    )
