"""The seam between stitching and making a video playable.

`make_playable()` takes the stitched upload, probes it, writes the browser-playable rendition,
a thumbnail and 16 kHz mono audio next to it, and returns what `stream_video` should serve with
the media facts (a `ReadyMedia` record). ffmpeg runs locally on a copy in `workdir`; results are
uploaded with overwriting writes to the `ObjectStore`, so a re-run after a crash replaces
objects instead of duplicating them. This module imports neither Django nor Dramatiq: the store
and the keys come from core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.integrity import verify_whole
from recordplus.assembler.probe import MediaFacts, probe, require_sane, require_video
from recordplus.assembler.renditions import extract_audio, make_rendition, make_thumbnail
from recordplus.core.env import envfloat
from recordplus.core.errors import MediaBeyondLimits
from recordplus.core.ffmpeg import Limits
from recordplus.core.storage import ObjectStore, keys
from recordplus.videos.records import ReadyMedia

__all__ = ["MediaRejected", "make_playable"]

log = logging.getLogger(__name__)


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
    store: ObjectStore,
    public_id: str,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
    audio: bool = True,
) -> ReadyMedia:
    """Turn the stitched upload of video `public_id` into a playable video, thumbnail and audio.

    Reads `keys.source`; writes `keys.rendition` (webm or mp4), `keys.thumbnail` and
    `keys.audio` (only when the video has sound) into `store`, overwriting earlier runs and
    removing a rendition of the other type. The source is left in place. `audio=False` skips the
    transcriber's audio (a live transcription decoded it while the chunks arrived; should it give
    up later, the transcriber decodes the rendition itself). Raises MediaRejected with a user-facing reason when
    the upload is not a usable video; anything else (storage I/O, a missing ffmpeg) is transient.
    """
    report = _Progress(progress)
    limits = Limits.from_env()
    clock = _Stopwatch()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)

    source_key = keys.source(public_id)
    source = work / "source"
    store.download(source_key, source)
    clock.lap("download")
    report(0.05)

    facts = probe(source, limits=limits)
    require_video(facts)
    log.info("probed %s: %s", source_key, facts)
    # Bombs stop here, before any decode: absurd rates or sizes, hours claimed by a few bytes.
    require_sane(facts, limits=limits)
    # Never `ready` unless whole: a wrongly ordered or truncated upload stops here with a reason.
    whole = verify_whole(source)
    log.info("verified %s: %s", source_key, whole)
    clock.lap("probe")
    report(0.1)

    out = work / "out"
    out.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="recordplus-media") as pool:
        # The transcriber's audio and the thumbnail come from the upload while the video is
        # remuxed or transcoded: a remux is I/O bound, so they run on otherwise idle cores.
        audio_job = pool.submit(_audio_or_none, source, out / "audio.wav", facts if audio else None, limits, source_key)
        thumbnail_job = pool.submit(
            _timed,
            make_thumbnail,
            source,
            out / "thumbnail.jpg",
            duration=whole.duration or whole.last_timestamp or facts.duration,
            at_seconds=envfloat("THUMBNAIL_AT_SECONDS", 1.0, minimum=0.0),
            limits=limits,
            facts=facts,
        )
        rendition, plan = make_rendition(source, facts, out, limits=limits, progress=report.span(0.1, 0.8))
        final = probe(rendition, limits=limits)
        if not final.has_video or not final.duration:
            raise MediaRejected(
                "The recording contains no video frames; it may have been stopped right after it began"
            )
        clock.lap(plan.kind)
        report(0.8)
        thumbnail, thumbnail_seconds = thumbnail_job.result()
        clock.lap("thumbnail wait")
        report(0.85)
        audio_path, audio_seconds = audio_job.result()
        clock.lap("audio wait")
        clock.laps["thumbnail (alongside)"] = thumbnail_seconds
        clock.laps["audio (alongside)"] = audio_seconds
    if not final.has_audio:
        audio_path = None
    report(0.9)

    video_key = keys.rendition(public_id, plan.extension)
    store.write_file(video_key, rendition, content_type=plan.content_type)
    for extension in keys.RENDITION_EXTENSIONS:
        if extension != plan.extension:
            store.delete(keys.rendition(public_id, extension))  # left by an older run or code version
    report(0.96)
    thumbnail_key = _put_or_clear(store, keys.thumbnail(public_id), thumbnail, "image/jpeg")
    audio_key = _put_or_clear(store, keys.audio(public_id), audio_path, "audio/wav")
    clock.lap("upload")
    log.info("made %s playable (%s): %s", source_key, plan.reason, clock)
    report(1.0)

    return ReadyMedia(
        video_key=video_key,
        content_type=plan.content_type,
        container=final.container or "",
        video_codec=final.video_codec or "",
        audio_codec=final.audio_codec or "",
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
    source: Path, output: Path, facts: MediaFacts | None, limits: Limits, source_key: str
) -> tuple[Path | None, float]:
    """16 kHz mono WAV of the upload's audio (None without audio, or without `facts`: not
    wanted), and the seconds it took."""
    started = time.monotonic()
    if facts is None or not facts.has_audio:
        return None, 0.0
    try:
        return extract_audio(source, output, limits=limits, facts=facts), time.monotonic() - started
    except MediaBeyondLimits:
        raise  # an audio track beyond the limits fails the video: it is a bomb, not a quirk
    except MediaRejected as exc:
        # The video still plays; it just cannot be transcribed.
        log.warning("no transcriber audio for %s: %s", source_key, exc)
        return None, time.monotonic() - started


def _timed(function: Callable[..., Path | None], *args: object, **kwargs: object) -> tuple[Path | None, float]:
    """`function(*args, **kwargs)` and the seconds it took."""
    started = time.monotonic()
    return function(*args, **kwargs), time.monotonic() - started


def _put_or_clear(store: ObjectStore, key: str, path: Path | None, content_type: str) -> str:
    """Store `path` under `key`, or remove `key` when this run made nothing for it (a previous
    run's object must not outlive a changed outcome); returns the key, or "" when cleared."""
    if path is None:
        store.delete(key)
        return ""
    store.write_file(key, path, content_type=content_type)
    return key
