"""Turn a probed upload into what browsers play: the rendition, a thumbnail and 16 kHz audio.

Decisions (see docs/media.md):

- WebM/Matroska with VP8, VP9 or AV1 video and Opus/Vorbis (or no) audio: remux without
  re-encoding into WebM; the muxer writes the duration and moves the Cues (seek index) to the
  front. MediaRecorder output has neither, so it cannot be seeked until this runs.
- MP4/MOV/Matroska with 8-bit 4:2:0 H.264: copy the video into MP4 with `moov` first
  (faststart); AAC audio is copied, any other audio becomes AAC.
- AVI, and anything with codecs browsers do not play (MPEG-4 part 2, HEVC, 10-bit H.264, …):
  transcode to H.264/AAC MP4 with faststart.

Every run is bounded by the media it works on (see recordplus.core.media_limits): its time
limit comes from the probed duration, pixels and bytes, each output stops at `-t` (the probed
duration plus a margin, at most MAX_VIDEO_SECONDS) and `-fs` (what that duration can fill), and
a run that reaches a cap fails the video with a reason instead of storing a cut file. A run
stopped at its time limit says so ("took longer than N s"), not ffmpeg's last warnings.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from recordplus.assembler.errors import MediaRejected
from recordplus.core.errors import MediaBeyondLimits
from recordplus.core.ffmpeg import FFmpegError, FFmpegTimeout, Limits, ffmpeg, ffmpeg_stdout
from recordplus.core.media_limits import (
    WAV16K_BYTES_PER_SECOND,
    output_seconds,
    refuse_absurd,
    refuse_over_budget,
    rendition_bytes,
    spoken_seconds,
    time_limit,
    wav16k_bytes,
)
from recordplus.assembler.probe import MP4_FAMILY, WEBM_FAMILY, MediaFacts, probe, stderr_summary

log = logging.getLogger(__name__)

WEBM_VIDEO_CODECS = ("vp8", "vp9", "av1")
WEBM_AUDIO_CODECS = ("opus", "vorbis")
# 8-bit 4:2:0 is what every browser's H.264 decoder takes; 10-bit or 4:4:4 H.264 is not.
BROWSER_H264_PIX_FMTS = ("yuv420p", "yuvj420p")
MP4_COPY_AUDIO_CODECS = ("aac",)

Kind = Literal["remux_webm", "faststart_mp4", "transcode_mp4"]


@dataclass(frozen=True)
class Plan:
    """How one upload becomes its browser-playable rendition."""

    kind: Kind
    extension: str
    content_type: str
    audio: Literal["copy", "aac", "none"]
    reason: str


def plan_rendition(facts: MediaFacts) -> Plan:
    """Choose the cheapest conversion that yields a file every major browser plays and seeks."""
    audio_codec = facts.audio_codec if facts.has_audio else None
    if (
        # VP9/AV1 with Opus in MP4 too (Chromium's MediaRecorder in MP4 mode): the same streams
        # copied into WebM play everywhere, where a transcode to H.264 would cost minutes.
        facts.container in (*WEBM_FAMILY, *MP4_FAMILY)
        and facts.video_codec in WEBM_VIDEO_CODECS
        and (audio_codec is None or audio_codec in WEBM_AUDIO_CODECS)
    ):
        return Plan("remux_webm", "webm", "video/webm", "copy" if audio_codec else "none",
                    f"{facts.container} with {facts.video_codec}/{audio_codec or 'no audio'}: "
                    "remux with duration and cues up front")
    if (
        facts.container in (*MP4_FAMILY, *WEBM_FAMILY)
        and facts.video_codec == "h264"
        and facts.pix_fmt in BROWSER_H264_PIX_FMTS
    ):
        audio = "none" if audio_codec is None else ("copy" if audio_codec in MP4_COPY_AUDIO_CODECS else "aac")
        return Plan("faststart_mp4", "mp4", "video/mp4", audio,
                    f"{facts.container} with h264/{audio_codec or 'no audio'}: copy into MP4 with moov first")
    return Plan("transcode_mp4", "mp4", "video/mp4", "aac" if audio_codec else "none",
                f"{facts.container} with {facts.video_codec}/{audio_codec or 'no audio'}: "
                "transcode to H.264/AAC MP4")


def _audio_args(plan: Plan, facts: MediaFacts) -> list[str]:
    if plan.audio == "none":
        return ["-an"]
    if plan.audio == "copy":
        return ["-c:a", "copy"]
    args = ["-c:a", "aac", "-b:a", "128k"]
    if (facts.audio_channels or 0) > 2:
        args += ["-ac", "2"]  # browsers play stereo everywhere; 5.1 AAC is not a given
    return args


def _encoder_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _caps(seconds: float, max_bytes: int) -> list[str]:
    """Output options that stop an output at `seconds` of media and about `max_bytes`."""
    return ["-t", f"{seconds:.3f}", "-fs", str(max_bytes)]


def _reached(output: Path, max_bytes: int) -> bool:
    """True when ffmpeg stopped `output` at its `-fs` cap (it writes a little past it)."""
    try:
        return output.stat().st_size >= max_bytes
    except OSError:
        return False


def _failure(what: str, exc: FFmpegError, source: Path) -> MediaRejected:
    """The reason a user reads: a timeout says so; anything else quotes ffmpeg's last words."""
    if isinstance(exc, FFmpegTimeout):
        return MediaBeyondLimits(f"{what}: {exc}")
    detail = stderr_summary(exc.stderr_tail, source) or str(exc)
    return MediaRejected(f"{what} ({detail})")


def rendition_caps(plan: Plan, facts: MediaFacts, limits: Limits) -> tuple[float, int]:
    """(`-t` seconds, `-fs` bytes) of the rendition of `facts`."""
    seconds = output_seconds(facts.duration, max_seconds=limits.max_video_seconds)
    return seconds, rendition_bytes(facts.claims(), seconds, transcode=plan.kind == "transcode_mp4")


def build_args(
    plan: Plan, facts: MediaFacts, source: Path, output: Path, *, limits: Limits | None = None
) -> list[str]:
    """The ffmpeg arguments (after the global options) that realise `plan`."""
    seconds, max_bytes = rendition_caps(plan, facts, limits or Limits.from_env())
    maps = ["-map", "0:v:0"] + (["-map", "0:a:0"] if plan.audio != "none" else [])
    args = ["-i", str(source), *maps, "-sn", "-dn", "-map_metadata", "-1"]
    if plan.kind == "remux_webm":
        # The matroska muxer reserves room for the duration and, with cues_to_front, rewrites the
        # file so the Cues sit before the first Cluster (it needs a seekable local output).
        args += ["-c", "copy", "-f", "webm", "-cues_to_front", "1"]
    elif plan.kind == "faststart_mp4":
        args += ["-c:v", "copy", *_audio_args(plan, facts), "-movflags", "+faststart", "-f", "mp4"]
    else:
        args += [
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
            # The frames the input has, no more: the MP4 muxer's default (constant rate) would
            # duplicate frames up to a rate the input merely claims.
            "-fps_mode", "vfr",
            # x264 starts 1.5 threads per visible core, each with frame buffers; on a big node
            # that alone can exceed the memory limit, and beyond ~8 threads there is no gain.
            "-threads", str(_encoder_threads()),
            # H.264 4:2:0 needs even dimensions.
            "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2",
            *_audio_args(plan, facts),
            "-movflags", "+faststart", "-f", "mp4",
        ]
    return [*args, *_caps(seconds, max_bytes), str(output)]


def make_rendition(
    source: Path,
    facts: MediaFacts,
    output_dir: Path,
    *,
    limits: Limits | None = None,
    progress: Callable[[float], None] | None = None,
) -> tuple[Path, Plan]:
    """Write the playable rendition of `source` into `output_dir`; return its path and plan.

    Raises MediaRejected when ffmpeg cannot convert the file (its stderr tail is in the reason).
    """
    limits = limits or Limits.from_env()
    plan = plan_rendition(facts)
    output = output_dir / f"video.{plan.extension}"
    claims = facts.claims()
    refuse_absurd(claims, max_seconds=limits.max_video_seconds)
    work = "transcode" if plan.kind == "transcode_mp4" else "copy"
    refuse_over_budget(work, claims, cap=limits.timeout_seconds, max_seconds=limits.max_video_seconds)
    _, max_bytes = rendition_caps(plan, facts, limits)
    log.info("rendition of %s: %s", source.name, plan.reason)
    try:
        ffmpeg(
            build_args(plan, facts, source, output, limits=limits),
            limits=limits,
            progress=progress,
            duration=facts.duration,
            # A copy writes about as many bytes as it reads: progress for duration-less WebM.
            expected_size=facts.size if plan.kind != "transcode_mp4" else None,
            timeout_seconds=rendition_time_limit(plan, facts, limits),
        )
    except FFmpegError as exc:
        output.unlink(missing_ok=True)
        raise _failure("The video could not be converted for playback", exc, source) from exc
    if _reached(output, max_bytes):
        output.unlink(missing_ok=True)
        raise MediaBeyondLimits(
            f"The video could not be converted for playback: it grew past {max_bytes} bytes, more than "
            f"{spoken_seconds(facts.duration or limits.max_video_seconds)} of it can hold"
        )
    return output, plan


def rendition_time_limit(plan: Plan, facts: MediaFacts, limits: Limits) -> float:
    """The time limit of the rendition run: from duration, pixels and bytes, at most
    FFMPEG_TIMEOUT_SECONDS."""
    work = "transcode" if plan.kind == "transcode_mp4" else "copy"
    return time_limit(work, facts.claims(), cap=limits.timeout_seconds, max_seconds=limits.max_video_seconds)


def make_thumbnail(
    video: Path,
    output: Path,
    *,
    duration: float | None,
    at_seconds: float = 1.0,
    limits: Limits | None = None,
    facts: MediaFacts | None = None,
) -> Path | None:
    """Write a JPEG of a frame a little into `video`; None if no frame can be decoded.

    Tries `at_seconds` (capped to the middle of short videos), then 10%, 25% and 50% of the
    duration, and keeps the first frame that is not a flat colour (the black frame recordings
    often start with); if all are flat, the first one made.
    """
    limits = limits or Limits.from_env()
    candidates = _thumbnail_times(duration, at_seconds)
    try:
        facts = facts or probe(video, limits=limits)
    except MediaRejected:
        return None
    budget = time_limit("thumbnail", facts.claims(), cap=limits.timeout_seconds, max_seconds=limits.max_video_seconds)
    first: Path | None = None
    chosen: Path | None = None
    for index, at in enumerate(candidates):
        attempt = output.with_name(f"{output.stem}.{index}{output.suffix}")
        try:
            # One decode, two outputs: the JPEG and a 32x32 grey copy on stdout to judge it by.
            luma = ffmpeg_stdout(
                ["-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1", "-filter_complex",
                 # Browsers show thumbnails small; 1280 wide is plenty and keeps the JPEG light.
                 "[0:v:0]split=2[big][small];[big]scale='min(1280,iw)':-2[jpeg];"
                 "[small]scale=32:32,format=gray[luma]",
                 "-map", "[jpeg]", "-frames:v", "1", "-q:v", "3", "-fs", str(16 << 20),
                 "-f", "image2", "-update", "1", str(attempt),
                 "-map", "[luma]", "-frames:v", "1", "-f", "rawvideo", "pipe:1"],
                limits=limits,
                timeout_seconds=budget,
            )
        except FFmpegError:
            log.info("no thumbnail frame at %.2fs of %s", at, video.name)
            continue
        if not attempt.exists() or attempt.stat().st_size == 0:
            continue
        first = first or attempt
        if not _is_flat(luma):
            chosen = attempt
            break
    chosen = chosen or first
    if chosen is None:
        return None
    chosen.replace(output)
    for leftover in output.parent.glob(f"{output.stem}.*{output.suffix}"):
        leftover.unlink(missing_ok=True)
    return output


def _thumbnail_times(duration: float | None, at_seconds: float) -> list[float]:
    if not duration:
        return [min(at_seconds, 0.5), 0.0]
    times = [min(at_seconds, duration / 2)] + [duration * share for share in (0.1, 0.25, 0.5)]
    unique: list[float] = []
    for at in times + [0.0]:
        if all(abs(at - seen) > 0.05 for seen in unique):
            unique.append(at)
    return unique


def _is_flat(luma: bytes) -> bool:
    """True when a small grey picture is one flat colour (e.g. a black frame)."""
    return not luma or max(luma) - min(luma) < 16


def extract_audio(
    video: Path, output: Path, *, limits: Limits | None = None, facts: MediaFacts | None = None
) -> Path:
    """Write the first audio track of `video` as 16 kHz mono 16-bit WAV (what Whisper expects).

    `facts` is `video`'s probe (probed here when not given). The WAV holds at most the probed
    duration plus a margin (`-t`), and at most the bytes that duration takes (`-fs`); media
    beyond the limits, or an audio track that decodes to more than it claims, raises
    MediaBeyondLimits, which fails the video (a truncated WAV would be transcribed as if whole).
    """
    limits = limits or Limits.from_env()
    facts = facts or probe(video, limits=limits)
    claims = facts.claims()
    refuse_absurd(claims, max_seconds=limits.max_video_seconds)
    seconds = output_seconds(facts.duration, max_seconds=limits.max_video_seconds)
    max_bytes = wav16k_bytes(seconds)
    try:
        ffmpeg(
            ["-i", str(video), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", "16000",
             "-c:a", "pcm_s16le", *_caps(seconds, max_bytes), "-f", "wav", str(output)],
            limits=limits,
            timeout_seconds=time_limit("audio", claims, cap=limits.timeout_seconds,
                                       max_seconds=limits.max_video_seconds),
        )
    except FFmpegError as exc:
        output.unlink(missing_ok=True)
        raise _failure("The audio track could not be extracted", exc, video) from exc
    # Stopped at -t or -fs: the track runs on past what the recording claims.
    if _reached(output, min(max_bytes, int((seconds - 1.0) * WAV16K_BYTES_PER_SECOND))):
        output.unlink(missing_ok=True)
        raise MediaBeyondLimits(
            f"The audio track decodes to more than {spoken_seconds(seconds)} of sound, more than the "
            f"recording claims ({spoken_seconds(facts.duration or 0)}): its headers do not describe real media"
        )
    return output
