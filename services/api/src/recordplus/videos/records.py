"""Typed records that cross from the workers into the videos app.

Plain dataclasses: this module imports neither Django nor Dramatiq, so a worker's plain
modules can build them and `videos.services` can store them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadyMedia:
    """Everything a finished assembly knows about the video it made: what stream_video
    serves, its probed facts, and where the thumbnail and the transcriber's audio are."""

    video_key: str
    content_type: str
    container: str
    video_codec: str
    audio_codec: str
    duration: float | None
    width: int | None
    height: int | None
    frame_rate: float | None
    has_audio: bool
    size: int
    thumbnail_key: str = ""
    audio_key: str = ""
