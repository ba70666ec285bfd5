"""The seam between stitching and making a video playable.

`make_playable()` takes the stitched upload, probes it, writes the browser-playable rendition,
a thumbnail and 16 kHz mono audio next to it, and returns what `stream_video` should serve with
the media facts. ffmpeg runs locally on a copy in `workdir`; results are uploaded with
overwriting writes, so a re-run after a crash replaces objects instead of duplicating them.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.core.files import File

from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.ffmpeg import Limits
from recordplus.assembler.probe import MediaFacts, probe, require_video
from recordplus.assembler.renditions import extract_audio, make_rendition, make_thumbnail
from recordplus.core.env import envfloat

__all__ = ["MediaOutcome", "MediaRejected", "StorageConflict", "make_playable"]

log = logging.getLogger(__name__)

RENDITION_EXTENSIONS = ("webm", "mp4")
COPY_BUFFER = 1024 * 1024


class StorageConflict(Exception):
    """Storage kept another object under a key we overwrite (a concurrent run); retry later."""


@dataclass
class MediaOutcome:
    """What stream_video serves and the facts probed from it."""

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


class _Progress:
    """Forwards monotonic, clamped fractions to the pipeline's callback."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self._callback = callback
        self._last = 0.0

    def __call__(self, fraction: float) -> None:
        fraction = min(max(fraction, self._last), 1.0)
        if self._callback is None or fraction <= self._last and fraction < 1.0:
            return
        self._last = fraction
        self._callback(fraction)

    def span(self, start: float, end: float) -> Callable[[float], None]:
        """A callback mapping a step's own 0..1 onto start..end of the whole."""
        return lambda fraction: self(start + (end - start) * fraction)


class _Stopwatch:
    """Seconds per step, for the log line that explains where an assembly's time went."""

    def __init__(self) -> None:
        self._mark = time.monotonic()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps[name] = now - self._mark
        self._mark = now

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.2f}s" for name, seconds in self.laps.items())


def make_playable(
    *,
    storage: Any,
    source_key: str,
    prefix: str,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
) -> MediaOutcome:
    """Turn the stitched upload at `source_key` into a playable video, thumbnail and audio.

    Writes `<prefix>video.webm|mp4`, `<prefix>thumbnail.jpg` and `<prefix>audio.wav` (only when
    the video has sound) into `storage`, overwriting earlier runs and removing a rendition of the
    other type. The source is left in place. Raises MediaRejected with a user-facing reason when
    the upload is not a usable video; anything else (storage I/O, a missing ffmpeg) is transient.
    """
    report = _Progress(progress)
    limits = Limits.from_env()
    clock = _Stopwatch()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)

    source = work / "source"
    _download(storage, source_key, source)
    clock.lap("download")
    report(0.05)

    facts = probe(source, limits=limits)
    require_video(facts)
    log.info("probed %s: %s", source_key, facts)
    clock.lap("probe")
    report(0.1)

    out = work / "out"
    out.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="recordplus-audio") as pool:
        # The transcriber's audio is decoded from the upload while the video is remuxed or
        # transcoded: a remux is I/O bound, so the decode runs on an otherwise idle core.
        audio_job = pool.submit(_audio_or_none, source, out / "audio.wav", facts, limits, source_key)
        rendition, plan = make_rendition(source, facts, out, limits=limits, progress=report.span(0.1, 0.8))
        final = probe(rendition, limits=limits)
        if not final.has_video or not final.duration:
            raise MediaRejected(
                "The recording contains no video frames; it may have been stopped right after it began"
            )
        clock.lap(plan.kind)
        report(0.8)
        thumbnail = make_thumbnail(
            rendition,
            out / "thumbnail.jpg",
            duration=final.duration,
            at_seconds=envfloat("THUMBNAIL_AT_SECONDS", 1.0, minimum=0.0),
            limits=limits,
        )
        clock.lap("thumbnail")
        report(0.85)
        audio, audio_seconds = audio_job.result()
        clock.lap("audio wait")
        clock.laps["audio (alongside)"] = audio_seconds
    if not final.has_audio:
        audio = None
    report(0.9)

    video_key = f"{prefix}video.{plan.extension}"
    _put(storage, video_key, rendition)
    for extension in RENDITION_EXTENSIONS:
        if extension != plan.extension:
            storage.delete(f"{prefix}video.{extension}")  # left by an older run or code version
    report(0.96)
    thumbnail_key = _put_or_clear(storage, f"{prefix}thumbnail.jpg", thumbnail)
    audio_key = _put_or_clear(storage, f"{prefix}audio.wav", audio)
    clock.lap("upload")
    log.info("made %s playable (%s): %s", source_key, plan.reason, clock)
    report(1.0)

    return MediaOutcome(
        video_key=video_key,
        content_type=plan.content_type,
        container=final.container,
        video_codec=final.video_codec,
        audio_codec=final.audio_codec,
        duration=round(final.duration, 3),
        width=final.width,
        height=final.height,
        frame_rate=final.frame_rate,
        has_audio=final.has_audio,
        size=final.size,
        thumbnail_key=thumbnail_key,
        audio_key=audio_key,
    )


def _audio_or_none(
    source: Path, output: Path, facts: MediaFacts, limits: Limits, source_key: str
) -> tuple[Path | None, float]:
    """16 kHz mono WAV of the upload's audio (None without audio), and the seconds it took."""
    started = time.monotonic()
    if not facts.has_audio:
        return None, 0.0
    try:
        return extract_audio(source, output, limits=limits), time.monotonic() - started
    except MediaRejected as exc:
        # The video still plays; it just cannot be transcribed.
        log.warning("no transcriber audio for %s: %s", source_key, exc)
        return None, time.monotonic() - started


def _download(storage: Any, key: str, dest: Path) -> None:
    """Copy the object to `dest` without holding it in memory."""
    dest.unlink(missing_ok=True)
    try:
        local = storage.path(key)
    except NotImplementedError:
        local = None
    if local:
        try:
            os.link(local, dest)  # same filesystem: no copy at all
        except OSError:
            shutil.copyfile(local, dest)
        return
    bucket = getattr(storage, "bucket", None)
    if bucket is not None and hasattr(bucket, "download_file"):
        # django-storages' S3File.open buffers the whole object in memory; boto3's managed
        # download streams it to disk in parts instead.
        normalize = getattr(storage, "_normalize_name", None)
        bucket.download_file(normalize(key) if normalize else key, str(dest))
        return
    with storage.open(key, "rb") as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, COPY_BUFFER)


def _put(storage: Any, key: str, path: Path) -> str:
    """Store `path` under exactly `key`, replacing what is there.

    Django storages pick another name when a key exists; deleting first keeps the key stable.
    """
    storage.delete(key)
    with path.open("rb") as fh:
        saved = storage.save(key, File(fh, name=path.name))
    if saved != key:
        storage.delete(saved)
        raise StorageConflict(f"storage kept {saved!r} instead of {key!r}; another run is writing it")
    return key


def _put_or_clear(storage: Any, key: str, path: Path | None) -> str | None:
    if path is None:
        storage.delete(key)  # a previous run's object must not outlive a changed outcome
        return None
    return _put(storage, key, path)
