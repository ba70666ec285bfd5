"""What one upload may cost: absurd media is refused after probing, every ffmpeg run is bounded.

A few kilobytes can claim hours: a Matroska with 1 Hz PCM audio "lasting" 10 hours decodes to a
1.15 GB WAV at 16 kHz, 1 Hz FLAC claiming 1000 hours fills a disk, 20 s of static 4K video in
36 KB keeps an encoder busy for as long as it is allowed. So, after probing:

- `refuse_absurd` rejects parameters no recording has (sample rates outside 8 kHz–384 kHz,
  more than 240 frames a second, frames over 8192 pixels a side or beyond 8K UHD, a duration
  over MAX_VIDEO_SECONDS or far beyond what the file's bytes can hold), with a reason a user
  reads ("the audio track claims 10 h 0 min at 1 Hz; …");
- `refuse_over_budget` rejects a transcode whose pixels × duration cannot be done within
  FFMPEG_TIMEOUT_SECONDS even at the assumed worst-case speed;
- `time_limit` gives each ffmpeg run a limit derived from the media (duration, pixels, bytes),
  never above FFMPEG_TIMEOUT_SECONDS, and `output_seconds` / `wav16k_bytes` the `-t` / `-fs`
  caps of every output, so even a file whose headers lie writes a bounded amount.

The numbers are generous for real recordings (screen captures, cameras, MediaRecorder) and
small for a bomb. Pure arithmetic: this module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from recordplus.core.errors import MediaBeyondLimits

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 384_000
MAX_AUDIO_CHANNELS = 32
MAX_FRAME_RATE = 240.0
MAX_DIMENSION = 8192
MAX_PIXELS = 7680 * 4320  # 8K UHD
# Any real audio or video stream needs more than this many bytes per second of media (frame
# headers alone take more); a file claiming far more seconds than its bytes can hold is a bomb.
MIN_BYTES_PER_SECOND = 64
CLAIM_GRACE_SECONDS = 120.0

# Assumed worst-case speeds of one ffmpeg on a busy worker: the budget of a run is what its work
# takes at these speeds, times SLACK, plus FLOOR_SECONDS (process start, probing, seeking).
TRANSCODE_PIXELS_PER_SECOND = 25e6  # decode + scale + libx264 veryfast, 10-bit input included
AUDIO_SECONDS_PER_SECOND = 20.0  # decode + resample + encode audio
COPY_BYTES_PER_SECOND = 4 << 20  # demux + mux without decoding (stream copy)
THUMBNAIL_FRAMES = 300  # frames a seek may decode from the previous keyframe
FLOOR_SECONDS = 30.0
SLACK = 3.0
DEFAULT_FRAME_RATE = 30.0  # when the probe cannot say

# Room above the probed duration in every `-t`, and above the expected size in every `-fs`.
DURATION_MARGIN_SECONDS = 2.0
DURATION_MARGIN_FRACTION = 0.02
WAV16K_BYTES_PER_SECOND = 16_000 * 2  # 16 kHz mono 16-bit
WAV_HEADER_ALLOWANCE = 64 << 10

Work = Literal["probe", "copy", "transcode", "audio", "thumbnail"]


@dataclass(frozen=True)
class MediaClaims:
    """What a probe says a file holds: the numbers the limits are checked against."""

    size: int
    duration: float | None
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    has_video: bool = False
    has_audio: bool = False

    @property
    def pixels_per_second(self) -> float:
        if not self.has_video or not self.width or not self.height:
            return 0.0
        return float(self.width * self.height) * (self.frame_rate or DEFAULT_FRAME_RATE)


def spoken_seconds(seconds: float) -> str:
    """'42 s', '12 min 5 s', '10 h 0 min'."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _rate(hz: int) -> str:
    return f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz} Hz"


def refuse_absurd(claims: MediaClaims, *, max_seconds: float) -> None:
    """Raise MediaBeyondLimits when the probed numbers are beyond any real recording."""
    duration = claims.duration
    if claims.has_audio and claims.sample_rate is not None:
        if not MIN_SAMPLE_RATE <= claims.sample_rate <= MAX_SAMPLE_RATE:
            said = f"claims {spoken_seconds(duration)} at" if duration else "is sampled at"
            raise MediaBeyondLimits(
                f"The audio track {said} {_rate(claims.sample_rate)}; this server takes audio sampled at "
                f"{_rate(MIN_SAMPLE_RATE)} to {_rate(MAX_SAMPLE_RATE)}"
            )
    if claims.has_audio and claims.channels is not None and claims.channels > MAX_AUDIO_CHANNELS:
        raise MediaBeyondLimits(
            f"The audio track claims {claims.channels} channels; this server takes at most {MAX_AUDIO_CHANNELS}"
        )
    if claims.has_video:
        width, height = claims.width or 0, claims.height or 0
        if width > MAX_DIMENSION or height > MAX_DIMENSION or width * height > MAX_PIXELS:
            raise MediaBeyondLimits(
                f"The video claims frames of {width}×{height} pixels; this server takes at most "
                f"{MAX_DIMENSION} pixels a side and {MAX_PIXELS // 1_000_000} megapixels (8K UHD)"
            )
        if claims.frame_rate is not None and claims.frame_rate > MAX_FRAME_RATE:
            raise MediaBeyondLimits(
                f"The video claims {claims.frame_rate:g} frames per second; this server takes at most "
                f"{MAX_FRAME_RATE:g}"
            )
    if duration is not None and duration > max_seconds:
        raise MediaBeyondLimits(
            f"The recording claims to last {spoken_seconds(duration)}; this server takes recordings "
            f"of up to {spoken_seconds(max_seconds)} (MAX_VIDEO_SECONDS)"
        )
    if duration is not None and duration > CLAIM_GRACE_SECONDS + claims.size / MIN_BYTES_PER_SECOND:
        raise MediaBeyondLimits(
            f"The recording claims to last {spoken_seconds(duration)} but holds only {claims.size} bytes, "
            "far too few for that long: its headers do not describe real media"
        )


def expected_seconds(work: Work, claims: MediaClaims, *, max_seconds: float) -> float:
    """Seconds a run of `work` on this media takes at the assumed worst-case speeds."""
    duration = min(claims.duration or max_seconds, max_seconds)
    read = claims.size / COPY_BYTES_PER_SECOND
    if work == "probe":
        return read
    if work == "copy":
        # Audio is re-encoded to AAC in some remuxes: count it whenever there is audio.
        return read + (duration / AUDIO_SECONDS_PER_SECOND if claims.has_audio else 0.0)
    if work == "transcode":
        audio = duration / AUDIO_SECONDS_PER_SECOND if claims.has_audio else 0.0
        return read + claims.pixels_per_second * duration / TRANSCODE_PIXELS_PER_SECOND + audio
    if work == "audio":
        return read + duration / AUDIO_SECONDS_PER_SECOND
    frame = float((claims.width or 0) * (claims.height or 0))
    return frame * THUMBNAIL_FRAMES / TRANSCODE_PIXELS_PER_SECOND


def time_limit(work: Work, claims: MediaClaims, *, cap: float, max_seconds: float) -> float:
    """The wall-clock limit of one ffmpeg run: its expected time with slack, at most `cap`
    (FFMPEG_TIMEOUT_SECONDS)."""
    budget = FLOOR_SECONDS + SLACK * expected_seconds(work, claims, max_seconds=max_seconds)
    return float(min(cap, round(budget)))


def refuse_over_budget(work: Work, claims: MediaClaims, *, cap: float, max_seconds: float) -> None:
    """Raise MediaBeyondLimits when `work` cannot finish within `cap` seconds even at the
    assumed speed (before any ffmpeg starts), saying what makes it expensive."""
    needed = expected_seconds(work, claims, max_seconds=max_seconds)
    if needed <= cap:
        return
    duration = min(claims.duration or max_seconds, max_seconds)
    what = f"{spoken_seconds(duration)} of {claims.width}×{claims.height} video"
    if claims.frame_rate:
        what += f" at {claims.frame_rate:g} frames per second"
    raise MediaBeyondLimits(
        f"Converting this recording for playback ({what}, about "
        f"{claims.pixels_per_second * duration / 1e9:.1f} billion pixels) would need about "
        f"{spoken_seconds(needed)} of processing, more than the {spoken_seconds(cap)} this server "
        "allows one conversion (FFMPEG_TIMEOUT_SECONDS)"
    )


def output_seconds(duration: float | None, *, max_seconds: float) -> float:
    """The `-t` of an output: the probed duration (or MAX_VIDEO_SECONDS when unknown) plus a
    margin, never more than MAX_VIDEO_SECONDS plus the margin."""
    seconds = min(duration or max_seconds, max_seconds)
    return seconds + DURATION_MARGIN_SECONDS + DURATION_MARGIN_FRACTION * seconds


def wav16k_bytes(seconds: float) -> int:
    """The `-fs` of a 16 kHz mono 16-bit WAV of `seconds` (one that reaches it was cut)."""
    return int(seconds * WAV16K_BYTES_PER_SECOND) + WAV_HEADER_ALLOWANCE


def rendition_bytes(claims: MediaClaims, seconds: float, *, transcode: bool) -> int:
    """The `-fs` of the playable rendition: a copy writes about what it reads; a transcode at
    most one bit per pixel plus 256 kbit/s of audio (x264 at CRF 23 writes far less)."""
    if not transcode:
        return int(claims.size * 1.5) + (16 << 20)
    video = claims.pixels_per_second * seconds / 8
    return int(claims.size + video + seconds * 32_000) + (16 << 20)
