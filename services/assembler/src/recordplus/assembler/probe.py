"""Probe a media file with ffprobe and turn its JSON into typed facts.

The format is judged by the bytes (ffprobe's demuxer detection plus the EBML DocType / MP4
brand), never by the file name. This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from recordplus.assembler import layout
from recordplus.core.ffmpeg import FFmpegError, Limits, ffprobe
from recordplus.core.media_limits import MediaClaims, refuse_absurd, time_limit
from recordplus.assembler.errors import MediaRejected

# Containers we take in. "mov" (QuickTime brand) and "matroska" (Matroska DocType, e.g. Chrome's
# video/x-matroska) are the same box/EBML formats as MP4 and WebM and go through the same paths.
MP4_FAMILY = ("mp4", "mov")
WEBM_FAMILY = ("webm", "matroska")
ACCEPTED_CONTAINERS = (*MP4_FAMILY, *WEBM_FAMILY, "avi")

# Frame rates outside this range are time-base artefacts (WebM reports 1000/1), not real rates.
_MAX_SANE_FPS = 300.0


@dataclass(frozen=True)
class MediaFacts:
    """What ffprobe found in one file."""

    container: str | None
    format_name: str
    video_codec: str | None
    pix_fmt: str | None
    audio_codec: str | None
    audio_channels: int | None
    duration: float | None
    width: int | None
    height: int | None
    frame_rate: float | None
    has_video: bool
    has_audio: bool
    size: int
    audio_sample_rate: int | None = None
    # The frame rate the stream claims (average, or counted), unfiltered: what limits judge.
    claimed_frame_rate: float | None = None

    @property
    def accepted(self) -> bool:
        """The container is one we take in (mp4, webm, avi and their close kin)."""
        return self.container in ACCEPTED_CONTAINERS

    def claims(self) -> MediaClaims:
        """The numbers the media limits are checked against."""
        return MediaClaims(
            size=self.size,
            duration=self.duration,
            width=self.width,
            height=self.height,
            frame_rate=self.claimed_frame_rate or self.frame_rate,
            sample_rate=self.audio_sample_rate,
            channels=self.audio_channels,
            has_video=self.has_video,
            has_audio=self.has_audio,
        )


def _friendly_reason(stderr_tail: str) -> str:
    text = stderr_tail.lower()
    if "moov atom not found" in text:
        return (
            "The MP4 file is incomplete: its index (the 'moov' box) is missing, which usually means "
            "the recording or the upload was cut off before it finished"
        )
    if text.rstrip().endswith("end of file"):
        return (
            "The upload ends before any video frames: the recording was stopped at once "
            "or the upload was cut off"
        )
    if "ebml header" in text or "invalid data found" in text or "could not find codec parameters" in text:
        return "The upload is not a video we can read; please upload an MP4, WebM or AVI file"
    return "The upload could not be read as a video"


_DEMUXER_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*")


def stderr_summary(stderr_tail: str, path: Path | None = None, limit: int = 300) -> str:
    """ffmpeg's last words, one line, without temp paths or `[demuxer @ 0x…]` noise."""
    seen: list[str] = []
    for raw in stderr_tail.splitlines():
        line = _DEMUXER_PREFIX.sub("", raw.strip())
        if path is not None:
            line = line.replace(f"{path}: ", "").replace(str(path), "the upload")
        if line and line not in seen:
            seen.append(line)
    text = "; ".join(seen[-2:])
    return text if len(text) <= limit else "…" + text[-limit:]


def _reject_unreadable(exc: FFmpegError, path: Path) -> MediaRejected:
    reason = _friendly_reason(exc.stderr_tail)
    detail = stderr_summary(exc.stderr_tail, path)
    return MediaRejected(f"{reason} (ffprobe: {detail})" if detail else reason)


def _rate(value: str | None, *, limit: float = _MAX_SANE_FPS) -> float | None:
    if not value or value in ("0/0", "N/A"):
        return None
    try:
        rate = float(Fraction(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(rate, 3) if 0 < rate <= limit else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number > 0 else None  # drop NaN, 0 and negatives


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def detect_container(path: Path, format_name: str, tags: dict[str, str]) -> str | None:
    """Name the container from ffprobe's demuxer name plus the file's own markers."""
    names = format_name.split(",")
    if "mov" in names or "mp4" in names:
        brand = (tags.get("major_brand") or "").strip().lower()
        return "mov" if brand == "qt" else "mp4"
    if "matroska" in names or "webm" in names:
        return "webm" if layout.matroska_doctype(path) == "webm" else "matroska"
    if "avi" in names:
        return "avi"
    return names[0] if names and names[0] else None


def parse(path: Path, data: dict[str, Any]) -> MediaFacts:
    """Build MediaFacts from ffprobe's `-show_format -show_streams` JSON for `path`."""
    fmt = data.get("format") or {}
    streams = data.get("streams") or []
    # Cover art in MP4/MP3 is a one-frame "video" stream flagged attached_pic: not a video.
    videos = [
        s for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    video = videos[0] if videos else None
    audio = audios[0] if audios else None
    format_name = str(fmt.get("format_name") or "")
    duration = _float(fmt.get("duration"))
    if duration is None:
        stream_durations = [_float(s.get("duration")) for s in (video, audio) if s]
        duration = max((d for d in stream_durations if d), default=None)
    frame_rate = None
    if video:
        # r_frame_rate is the stream's nominal rate; avg_frame_rate is skewed by a short last
        # frame. Matroska reports its 1 ms time base (1000/1) as r_frame_rate: _rate drops it.
        frame_rate = _rate(video.get("r_frame_rate"), limit=120.0) or _rate(video.get("avg_frame_rate"))
    claimed = _rate(video.get("avg_frame_rate"), limit=float("inf")) if video else None
    return MediaFacts(
        container=detect_container(path, format_name, {k.lower(): v for k, v in (fmt.get("tags") or {}).items()}),
        format_name=format_name,
        video_codec=video.get("codec_name") if video else None,
        pix_fmt=video.get("pix_fmt") if video else None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_channels=_int(audio.get("channels")) if audio else None,
        duration=duration,
        width=_int(video.get("width")) if video else None,
        height=_int(video.get("height")) if video else None,
        frame_rate=frame_rate,
        has_video=video is not None,
        has_audio=audio is not None,
        size=path.stat().st_size,
        audio_sample_rate=_int(audio.get("sample_rate")) if audio else None,
        claimed_frame_rate=claimed,
    )


def probe(path: Path, *, limits: Limits | None = None) -> MediaFacts:
    """Probe `path`; raise MediaRejected (with a user-facing reason) when it cannot be read."""
    if path.stat().st_size == 0:
        raise MediaRejected("The upload is empty: no video data was received")
    try:
        result = ffprobe(
            ["-print_format", "json", "-show_format", "-show_streams", "-i", str(path)],
            limits=limits,
            timeout_seconds=time_limit(
                "probe", MediaClaims(size=path.stat().st_size, duration=None), cap=float("inf"), max_seconds=0.0
            ),
        )
    except FFmpegError as exc:
        if exc.returncode is None:  # timed out or missing binary: not the user's fault
            raise
        raise _reject_unreadable(exc, path) from exc
    try:
        data = json.loads(result.stdout or b"{}")
    except json.JSONDecodeError as exc:
        raise MediaRejected("The upload could not be read as a video") from exc
    facts = parse(path, data)
    if facts.has_video and facts.frame_rate is None and facts.duration:
        facts = _with_counted_frame_rate(path, facts, limits=limits)
    return facts


def _with_counted_frame_rate(path: Path, facts: MediaFacts, *, limits: Limits | None) -> MediaFacts:
    """Frame rate from the packet count when the headers do not say (variable-rate recordings).

    This demuxes the file (no decoding), which is I/O bound and fast.
    """
    try:
        result = ffprobe(
            ["-print_format", "json", "-select_streams", "v:0", "-count_packets",
             "-show_entries", "stream=nb_read_packets", "-i", str(path)],
            limits=limits,
            # A demux of the whole file: bounded by its size, not by FFMPEG_TIMEOUT_SECONDS alone.
            timeout_seconds=time_limit("probe", facts.claims(), cap=float("inf"), max_seconds=float("inf")),
        )
        streams = json.loads(result.stdout or b"{}").get("streams") or []
        packets = _int(streams[0].get("nb_read_packets")) if streams else None
    except (FFmpegError, json.JSONDecodeError):
        return facts
    if not packets or not facts.duration:
        return facts
    rate = packets / facts.duration
    if not 0 < rate <= _MAX_SANE_FPS:
        return MediaFacts(**{**facts.__dict__, "claimed_frame_rate": round(rate, 3)}) if rate > 0 else facts
    return MediaFacts(**{**facts.__dict__, "frame_rate": round(rate, 3), "claimed_frame_rate": round(rate, 3)})


def require_video(facts: MediaFacts) -> None:
    """Raise MediaRejected unless the file is an accepted container holding a video track."""
    if not facts.accepted:
        found = facts.container or "unknown"
        raise MediaRejected(
            f"The upload is not an MP4, WebM or AVI video (its content looks like '{found}')"
        )
    if not facts.has_video:
        raise MediaRejected(
            "The upload has no video track (audio-only files are not accepted); "
            "record again with screen or camera capture on"
        )


def require_sane(facts: MediaFacts, *, limits: Limits) -> None:
    """Raise MediaBeyondLimits when the probed numbers are beyond any real recording (an absurd
    sample rate, frame rate or frame size, a duration over MAX_VIDEO_SECONDS or beyond what the
    bytes can hold): such files are decompression or CPU bombs, refused before ffmpeg runs."""
    refuse_absurd(facts.claims(), max_seconds=limits.max_video_seconds)
