"""The transcription job: claim → fetch the audio → run the engine → store the outputs → done.

The seam between the plain modules (audio, engines, runner, captions) and the rest: the
Transcript row changes only through `recordplus.transcripts.services` (claim, complete, fail,
release), objects only through the `ObjectStore`, and whether a failure is retried is decided
by the shared rule of `recordplus.core.jobs`.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
from pathlib import Path

from dramatiq.middleware import TimeLimitExceeded

from recordplus.core import jobs, metrics
from recordplus.core.storage import get_store, keys
from recordplus.core.tempdirs import make_workdir
from recordplus.transcriber import captions
from recordplus.transcriber.audio import is_wav16k_mono, to_wav16k
from recordplus.transcriber.config import TranscribeSettings, transcribe_settings
from recordplus.transcriber.engines import load_engine
from recordplus.transcriber.errors import NoAudioStream, SourceMissing, TranscriptionTimedOut
from recordplus.transcriber.runner import transcribe_wav
from recordplus.transcripts import services as transcript_services
from recordplus.transcripts.models import Transcript
from recordplus.transcripts.records import TranscriptResult
from recordplus.videos.models import Video

logger = logging.getLogger(__name__)

NO_AUDIO_NOTE = "the recording has no audio track"
# Leave the job a little longer than Dramatiq's time limit before another worker may take it over.
LEASE_MARGIN_SECONDS = 120

CONTENT_TYPES = {
    "json": "application/json",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


def transcribe(video_id: int) -> None:
    """Transcribe video `video_id` if its transcript is waiting; idempotent.

    A `done` transcript, one another worker holds (unexpired lease), or a deleted video is left
    alone. Failures follow `core.jobs.run_attempt`: permanent ones mark the transcript `failed`
    with a readable reason and raise JobFailed; transient ones put it back to `pending` and
    re-raise for Dramatiq to retry, until TRANSCRIBE_MAX_ATTEMPTS. A worker that dies mid-job
    leaves a lease that expires, so it is never stuck `running`.
    """
    from recordplus.transcriber import live

    if live.takes_over(video_id):  # transcribed window by window while it was uploaded (issue 11)
        return
    settings = transcribe_settings()
    transcript = transcript_services.transcript_claim(
        video_id=video_id,
        lease_seconds=settings.time_limit_seconds + LEASE_MARGIN_SECONDS,
        max_attempts=settings.max_attempts,
    )
    if transcript is None:
        logger.info("transcript of video %s needs no work (done, held, gone or given up)", video_id)
        return
    result = jobs.run_attempt(
        lambda: _attempt(transcript, settings),
        stage="transcribe",
        attempt=transcript.attempts,
        max_attempts=settings.max_attempts,
        fail=lambda message: transcript_services.transcript_fail(transcript=transcript, error=message),
        release=lambda message: transcript_services.transcript_release(transcript=transcript, error=message),
    )
    _observe(result)
    logger.info(
        "transcribed video %s: %.1fs audio in %.1fs (%s, %s)",
        video_id, result.audio_seconds, result.wall_seconds, result.engine, result.model,
    )  # fmt: skip


def _attempt(transcript: Transcript, settings: TranscribeSettings) -> TranscriptResult:
    """One claimed attempt: transcribe, store the documents, then record the result."""
    try:
        result = _transcript_of(transcript.video, settings)
        _store_outputs(transcript.video, result)
        transcript_services.transcript_complete(transcript=transcript, result=result)
    except TimeLimitExceeded as exc:
        # Dramatiq's own error carries no message; ours names the setting to raise.
        raise TranscriptionTimedOut(settings.time_limit_seconds) from exc
    return result


def _transcript_of(video: Video, settings: TranscribeSettings) -> TranscriptResult:
    """The video's transcript: its audio through the configured engine."""
    if video.has_audio is False:
        return _no_audio()
    # Named with this process's id, so a sweep at start removes it if this process is killed.
    tmp = make_workdir("recordplus-transcribe-")
    try:
        try:
            wav = _fetch_audio(video, tmp)
        except NoAudioStream:
            return _no_audio()
        engine = load_engine(settings)
        return transcribe_wav(wav, engine, settings, on_progress=ProgressWriter(video.pk))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class ProgressWriter:
    """Writes a transcription's progress to its row, at most every PROGRESS_STEP of the audio
    (a long recording reports hundreds of segments; the library only shows whole percents)."""

    PROGRESS_STEP = 0.02

    def __init__(self, video_id: int) -> None:
        self.video_id = video_id
        self.written = 0.0

    def __call__(self, fraction: float) -> None:
        if fraction - self.written >= self.PROGRESS_STEP or (fraction >= 1.0 > self.written):
            self.written = fraction
            transcript_services.transcript_set_progress(video_id=self.video_id, fraction=fraction)


def _no_audio() -> TranscriptResult:
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
    store = get_store()
    for fmt, content_type in CONTENT_TYPES.items():
        body = io.BytesIO(bodies[fmt].encode("utf-8"))
        store.write(keys.transcript(video.public_id, fmt), body, content_type=content_type)


def _observe(result: TranscriptResult) -> None:
    if not result.engine:
        return  # nothing was transcribed (no audio track)
    labels = (result.engine, result.model)
    metrics.TRANSCRIBED_AUDIO_SECONDS.labels(*labels).inc(result.audio_seconds)
    metrics.TRANSCRIPTION_WALL_SECONDS.labels(*labels).inc(result.wall_seconds)
    metrics.TRANSCRIPTION_DURATION.labels(*labels).observe(result.wall_seconds)
    if result.wall_seconds > 0:
        metrics.TRANSCRIPTION_SPEED.labels(*labels).set(result.speed)
