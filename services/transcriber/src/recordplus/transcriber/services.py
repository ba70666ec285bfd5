"""The transcription job: fetch the audio, run the engine, store the outputs, record the result.

This module is the seam between the plain modules (engines, runner, captions) and Django
(models, storage, metrics). State changes of the Transcript row go through
`recordplus.transcripts.services`, which owns the model.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from pathlib import Path

from recordplus.core.storage import get_store, keys
from recordplus.core.metrics import (
    JOBS_FINISHED,
    PIPELINE_FAILURES,
    TRANSCRIBED_AUDIO_SECONDS,
    TRANSCRIPTION_DURATION,
    TRANSCRIPTION_SPEED,
    TRANSCRIPTION_WALL_SECONDS,
)
from recordplus.transcriber import captions
from recordplus.transcriber.audio import NoAudioStream, is_wav16k_mono, to_wav16k
from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.engines import load_engine
from recordplus.transcriber.errors import SourceMissing, TranscriberError
from recordplus.transcriber.result import TranscriptResult
from recordplus.transcriber.runner import transcribe_wav
from recordplus.transcripts import services as transcript_services
from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video

logger = logging.getLogger(__name__)

QUEUE = "transcribe"
NO_AUDIO_NOTE = "the recording has no audio track"
# Leave the job a little longer than Dramatiq's time limit before another worker may take it over.
LEASE_MARGIN_SECONDS = 120

OUTPUTS = (
    ("json", "application/json"),
    ("vtt", "text/vtt; charset=utf-8"),
    ("srt", "application/x-subrip; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
)


@functools.cache
def transcribe_settings() -> TranscribeSettings:
    """This process's settings (read once, like the models they describe)."""
    return TranscribeSettings.from_env()


def output_key(video: Video, fmt: str) -> str:
    return keys.transcript(video.public_id, fmt)


def transcript_process(*, video_id: int) -> None:
    """Transcribe video `video_id` if its transcript is waiting; idempotent.

    A `done` transcript, one another worker holds (unexpired lease), or a deleted video is left
    alone. Errors that retrying cannot fix mark it `failed` with a readable reason; others put
    it back to `pending` and re-raise so Dramatiq retries with backoff, until the attempts run
    out. A time limit or crash mid-job leaves a lease that expires, so it is never stuck
    `running`.
    """
    settings = transcribe_settings()
    transcript = transcript_services.transcript_claim(
        video_id=video_id, lease_seconds=settings.time_limit_seconds + LEASE_MARGIN_SECONDS
    )
    if transcript is None:
        logger.info("transcript of video %s needs no work (done, held or gone)", video_id)
        return
    try:
        result = _transcribe(transcript.video, settings)
        _store_outputs(transcript.video, result)
        transcript_services.transcript_complete(transcript=transcript, result=result.to_dict())
    except TranscriberError as exc:
        if exc.permanent or transcript.attempts >= settings.max_attempts:
            _fail(transcript, exc.message, exc.reason)
            return
        _release(transcript, exc.message)
        raise
    except BaseException as exc:  # includes Dramatiq's TimeLimitExceeded (a BaseException)
        reason = "time_limit" if type(exc).__name__ == "TimeLimitExceeded" else "error"
        message = "transcription took longer than TRANSCRIBE_TIME_LIMIT" if reason == "time_limit" else str(exc)
        if transcript.attempts >= settings.max_attempts:
            _fail(transcript, f"{message} (after {transcript.attempts} attempts)", reason)
            if isinstance(exc, Exception):
                return
            raise
        _release(transcript, message or type(exc).__name__)
        raise
    _observe(result)
    JOBS_FINISHED.labels(QUEUE, "done").inc()
    logger.info(
        "transcribed video %s: %.1fs audio in %.1fs (%s, %s)",
        video_id, result.audio_seconds, result.wall_seconds, result.engine, result.model,
    )  # fmt: skip


def _fail(transcript: Transcript, message: str, reason: str) -> None:
    logger.warning("transcript of video %s failed: %s", transcript.video_id, message)
    transcript_services.transcript_fail(transcript=transcript, error=message)
    PIPELINE_FAILURES.labels("transcribe", reason).inc()
    JOBS_FINISHED.labels(QUEUE, "failed").inc()


def _release(transcript: Transcript, message: str) -> None:
    logger.warning("transcript of video %s will be retried: %s", transcript.video_id, message)
    transcript_services.transcript_release(transcript=transcript, error=message)
    JOBS_FINISHED.labels(QUEUE, "retry").inc()


def _transcribe(video: Video, settings: TranscribeSettings) -> TranscriptResult:
    if video.has_audio is False:
        return _no_audio(video)
    with tempfile.TemporaryDirectory(prefix="recordplus-transcribe-") as tmp:
        try:
            wav = _fetch_audio(video, Path(tmp))
        except NoAudioStream:
            return _no_audio(video)
        engine = load_engine(settings)
        return transcribe_wav(wav, engine, settings)


def _no_audio(video: Video) -> TranscriptResult:
    """A silent recording is not a failure: an empty transcript that says why."""
    return TranscriptResult(
        engine="", model="", language="", segments=[], audio_seconds=0.0, wall_seconds=0.0, note=NO_AUDIO_NOTE
    )


def _fetch_audio(video: Video, tmp: Path) -> Path:
    """A local 16 kHz mono WAV of the video's audio.

    The assembler's `audio.wav` when there is one; otherwise (older videos, or an assembler
    that did not extract it) the audio is extracted here from the stored video with ffmpeg.
    """
    store = get_store()
    if video.audio_key and store.exists(video.audio_key):
        wav = tmp / "audio.wav"
        store.download(video.audio_key, wav)
        if is_wav16k_mono(wav):
            return wav
        converted = tmp / "audio16k.wav"
        to_wav16k(wav, converted)
        return converted
    for key in (video.video_key, video.source_key):
        if key and store.exists(key):
            media = tmp / ("media" + Path(key).suffix)
            store.download(key, media)
            wav = tmp / "audio16k.wav"
            to_wav16k(media, wav)
            return wav
    raise SourceMissing(f"video {video.pk} has no stored audio or video yet")


def _store_outputs(video: Video, result: TranscriptResult) -> None:
    """transcript.json/.vtt/.srt/.txt next to the video, replacing earlier runs' files."""
    bodies = {
        "json": json.dumps(result.to_dict(), ensure_ascii=False, indent=1),
        "vtt": captions.to_vtt(result.segments),
        "srt": captions.to_srt(result.segments),
        "txt": captions.to_text(result.segments),
    }
    with tempfile.TemporaryDirectory(prefix="recordplus-captions-") as tmp:
        for fmt, content_type in OUTPUTS:
            path = Path(tmp) / f"transcript.{fmt}"
            path.write_text(bodies[fmt], encoding="utf-8")
            get_store().write_file(output_key(video, fmt), path, content_type=content_type)


def _observe(result: TranscriptResult) -> None:
    if not result.engine:
        return  # nothing was transcribed (no audio track)
    labels = (result.engine, result.model)
    TRANSCRIBED_AUDIO_SECONDS.labels(*labels).inc(result.audio_seconds)
    TRANSCRIPTION_WALL_SECONDS.labels(*labels).inc(result.wall_seconds)
    TRANSCRIPTION_DURATION.labels(*labels).observe(result.wall_seconds)
    if result.wall_seconds > 0:
        TRANSCRIPTION_SPEED.labels(*labels).set(result.speed)
