"""Every object key of a video, spelled in one place.

Keys are relative to the storage root (a folder on disk, or a bucket): everything a video owns
sits under `videos/<public_id>/`, so deleting a video is deleting that prefix.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import uuid

# What a rendition may be stored as; a run that writes one removes the other.
RENDITION_EXTENSIONS = ("webm", "mp4")
TRANSCRIPT_FORMATS = ("json", "vtt", "srt", "txt")


def video_prefix(public_id: str) -> str:
    """The folder of everything stored for one video."""
    return f"videos/{public_id}/"


def chunks_prefix(public_id: str) -> str:
    """Where received chunks wait until the video is stitched."""
    return f"{video_prefix(public_id)}chunks/"


def new_chunk(public_id: str) -> str:
    """A fresh key for one received chunk (its index lives in the database row)."""
    return f"{chunks_prefix(public_id)}{uuid.uuid4().hex}.part"


def source(public_id: str) -> str:
    """The stitched upload, exactly as received."""
    return f"{video_prefix(public_id)}source.bin"


def rendition(public_id: str, extension: str) -> str:
    """The browser-playable video that stream_video serves."""
    if extension not in RENDITION_EXTENSIONS:
        raise ValueError(f"renditions are {RENDITION_EXTENSIONS}, not {extension!r}")
    return f"{video_prefix(public_id)}video.{extension}"


def thumbnail(public_id: str) -> str:
    return f"{video_prefix(public_id)}thumbnail.jpg"


def audio(public_id: str) -> str:
    """16 kHz mono WAV for the transcriber."""
    return f"{video_prefix(public_id)}audio.wav"


def transcript(public_id: str, fmt: str) -> str:
    if fmt not in TRANSCRIPT_FORMATS:
        raise ValueError(f"transcripts are stored as {TRANSCRIPT_FORMATS}, not {fmt!r}")
    return f"{video_prefix(public_id)}transcript.{fmt}"


def live_prefix(public_id: str) -> str:
    """The live transcription's audio: window WAVs and the open window's PCM (issue 11)."""
    return f"{video_prefix(public_id)}live/"


def live_window(public_id: str, index: int) -> str:
    """16 kHz mono WAV of one live window, kept so the window can be redone after a crash."""
    return f"{live_prefix(public_id)}window-{index:05d}.wav"


def live_pcm(public_id: str, start_sample: int) -> str:
    """Raw 16 kHz mono s16le PCM of the open window, from `start_sample` on."""
    return f"{live_prefix(public_id)}open-{start_sample:012d}.pcm"
