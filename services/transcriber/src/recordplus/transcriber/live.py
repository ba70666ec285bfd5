"""Live transcription on the transcriber (issue 11): one window at a time, then the Transcript.

`transcribe_window(video_id, index)` (actor `live_transcribe_window`) transcribes one closed
window with the configured engine — the same engine, model and settings as the whole-file
job — with word times moved to the recording's timeline and kept inside the window. Once the
recording is decoded to its end, every window is done and the video is ready, `finish`
completes the video's Transcript from the windows (`transcripts.live_merge`): the same record,
files (json, vtt, srt, txt) and detail as the whole-file job writes. `takes_over` is how the
whole-file job hands a live video to this path (and takes it back when the live path gave up).

`transcribe_provisional(video_id, mark)` (actor `live_transcribe_provisional`) drafts the open
window's provisional caption: the engine's cheap pass (`draft=True`: greedy, no word times) over
the open window's stored PCM pieces as they are now. Best effort throughout: a piece that vanished
or changed means the window closed meanwhile (dropped), a closed window waiting for the engine
goes first (dropped), so does a busy engine (never waited for), and a failure is logged, never retried, never counted, never fails anything.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from django.conf import settings as django_settings
from django.db import transaction
from dramatiq.middleware import TimeLimitExceeded
from recordplus.core import jobs, messaging, metrics
from recordplus.core.storage import get_store, keys
from recordplus.transcriber.config import transcribe_settings
from recordplus.transcriber.engines import engine_turn, engine_turn_if_free, load_engine
from recordplus.transcriber.errors import TranscriptionTimedOut
from recordplus.transcripts import live_services
from recordplus.transcripts import services as transcript_services
from recordplus.transcripts.live_merge import clamp_window, merge_windows, segment_of
from recordplus.transcripts.models import LiveTranscript, LiveWindow, Transcript
from recordplus.transcripts.records import TranscriptResult

logger = logging.getLogger(__name__)

NO_SPEECH_NOTE = "no speech was detected in the audio"
LEASE_MARGIN_SECONDS = 120


def _samples(data: bytes) -> np.ndarray:
    """float32 samples of a stored window WAV (16 kHz mono 16-bit, as the decoder writes it)."""
    import io
    import wave

    with wave.open(io.BytesIO(data), "rb") as wav:
        raw = wav.readframes(wav.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def transcribe_window(video_id: int, index: int) -> None:
    """Transcribe live window `index` of video `video_id`; idempotent (a done window, one held
    by another worker, or a live path that gave up is left alone). An engine that decodes in
    batches (`transcribe_many`: WhisperX) takes up to LIVE_BATCH_WINDOWS - 1 other waiting
    windows, of any live recordings, along with it."""
    window = live_services.live_window_claim(video_id=video_id, index=index)
    if window is None:
        return
    others: list[LiveWindow] = []

    def work() -> None:
        engine = load_engine(transcribe_settings())  # inside the attempt: a model that cannot load fails it
        if hasattr(engine, "transcribe_many") and django_settings.LIVE_BATCH_WINDOWS > 1:
            limit = django_settings.LIVE_BATCH_WINDOWS - 1
            others.extend(live_services.live_windows_claim_waiting(limit=limit, exclude=window.pk))
        _transcribe([window, *others])

    def renew() -> bool:
        held = [live_services.live_window_renew(window=w) for w in [window, *others]]
        return any(held)

    every = django_settings.LIVE_LEASE_SECONDS / 3
    try:
        with jobs.heartbeat(renew, every=every):
            jobs.run_attempt(
                work,
                stage="live_window",
                attempt=window.attempts,
                max_attempts=django_settings.LIVE_MAX_ATTEMPTS,
                fail=lambda message: live_services.live_window_fail(window=window, error=message),
                release=lambda message: live_services.live_window_release(window=window, error=message),
            )
    except BaseException as exc:
        for other in others:  # given back: their own messages take them again
            live_services.live_window_release(window=other, error=f"the batch it was decoded in failed: {exc}")
        raise
    for video in dict.fromkeys(w.video_id for w in [window, *others]):
        live_services.live_window_finished(video_id=video)


def _transcribe(windows: list[LiveWindow]) -> None:
    settings = transcribe_settings()
    started, cpu = time.perf_counter(), time.process_time()
    store = get_store()
    samples = [_samples(store.read_bytes(w.audio_key)) for w in windows]
    engine = load_engine(settings)
    languages = [settings.language or live_services.live_language(video_id=w.video_id) or None for w in windows]
    try:
        with engine_turn():
            if len(windows) == 1:
                results = [engine.transcribe(samples[0], languages[0])]
            else:
                results = engine.transcribe_many(list(zip(samples, languages)))
    except TimeLimitExceeded as exc:
        raise TranscriptionTimedOut(settings.time_limit_seconds) from exc
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    labels = (engine.name, engine.model_label)
    for window, language, (detected, found) in zip(windows, languages, results):
        segments = clamp_window((s.shifted(window.start) for s in found), window.start, window.end)
        live_services.live_window_complete(
            window=window,
            segments=[s.to_dict() for s in segments],
            language=language or detected or "",
            wall_seconds=wall / len(windows),
        )
        metrics.TRANSCRIBED_AUDIO_SECONDS.labels(*labels).inc(window.end - window.start)
        logger.info(
            "live video %s: window %s (%.1f-%.1fs) transcribed in %.2fs (process CPU %.2fs)%s, %d segments",
            window.video_id, window.index, window.start, window.end, wall, cpu,
            f" in a batch of {len(windows)} windows" if len(windows) > 1 else "", len(segments),
        )  # fmt: skip
    metrics.TRANSCRIPTION_WALL_SECONDS.labels(*labels).inc(wall)


def takes_over(video_id: int) -> bool:
    """Whether the live path answers this video's transcription request (True: nothing more
    for the whole-file job to do now). False when the video has no live transcription, it
    gave up, or it already finished (a new request then transcribes the whole file)."""
    live = live_services.live_get(video_id=video_id)
    if live is None or live.status in (LiveTranscript.Status.ABANDONED, LiveTranscript.Status.FINISHED):
        return False
    if live.status == LiveTranscript.Status.ACTIVE:
        # The video is ready: the decoder reads the rest from the stitched source and closes
        # the last window; the last window's transcription then finishes the transcript.
        messaging.send_live_decode(video_id)
        return True
    finish(video_id)
    return True


def finish(video_id: int) -> None:
    """Complete the Transcript from the windows once everything is transcribed; idempotent."""
    if not live_services.live_ready_to_finish(video_id=video_id):
        return
    settings = transcribe_settings()
    transcript = transcript_services.transcript_claim(
        video_id=video_id,
        lease_seconds=settings.time_limit_seconds + LEASE_MARGIN_SECONDS,
        max_attempts=settings.max_attempts,
    )
    if transcript is None:
        return
    jobs.run_attempt(
        lambda: _complete(transcript),
        stage="transcribe",
        attempt=transcript.attempts,
        max_attempts=settings.max_attempts,
        fail=lambda message: transcript_services.transcript_fail(transcript=transcript, error=message),
        release=lambda message: transcript_services.transcript_release(transcript=transcript, error=message),
    )


def merged_result(video_id: int) -> TranscriptResult:
    """The windows of a live transcription as one finished transcription."""
    settings = transcribe_settings()
    engine = load_engine(settings)
    windows = list(LiveWindow.objects.filter(video_id=video_id, status=LiveWindow.Status.DONE).order_by("index"))
    segments = [segment_of(s) for s in merge_windows([w.segments for w in windows])]
    language = next((w.language for w in windows if w.language), "")
    notes = []
    alignment_problem = getattr(engine, "alignment_problem", None)
    if alignment_problem and language and alignment_problem(language):
        notes.append(f"word times not force-aligned: {alignment_problem(language)}")
    if not segments:
        notes.append(NO_SPEECH_NOTE)
    return TranscriptResult(
        engine=engine.name,
        model=engine.model_label,
        language=language,
        segments=segments,
        audio_seconds=windows[-1].end if windows else 0.0,
        wall_seconds=sum(w.wall_seconds or 0.0 for w in windows),
        note="; ".join(notes),
    )


def _complete(transcript: Transcript) -> None:
    from recordplus.transcriber.job import _store_outputs

    video = transcript.video
    result = merged_result(video.pk)
    _store_outputs(video, result)
    with transaction.atomic():
        transcript_services.transcript_complete(transcript=transcript, result=result)
        live_services.live_mark_finished(video_id=video.pk)
    get_store().delete_prefix(keys.live_prefix(video.public_id))
    logger.info(
        "live video %s: transcript completed from %d windows (%.1fs of audio)",
        video.pk, LiveWindow.objects.filter(video_id=video.pk).count(), result.audio_seconds,
    )  # fmt: skip


# --- the provisional caption ---------------------------------------------------------------


def transcribe_provisional(video_id: int, mark: int) -> None:
    """Draft the provisional caption of video `video_id`'s open window (the request made at
    `mark` decoded samples); idempotent and best effort: it never raises."""
    try:
        audio = live_services.live_provisional_claim(video_id=video_id, mark=mark)
    except Exception:
        logger.warning("live video %s: provisional caption skipped", video_id, exc_info=True)
        return
    if audio is None:
        return
    try:
        _draft(audio)
    except (Exception, TimeLimitExceeded):  # best effort: nothing waits for a draft
        logger.warning("live video %s: provisional caption failed", video_id, exc_info=True)
    finally:
        try:
            live_services.live_provisional_release(video_id=video_id, mark=mark)
        except Exception:  # the lease then runs out on its own
            logger.warning("live video %s: provisional lease not released", video_id, exc_info=True)


def open_samples(audio: live_services.OpenAudio) -> np.ndarray | None:
    """float32 samples of the open window's stored pieces; None when a piece vanished or no
    longer holds what the row said (the window closed meanwhile and the decoder replaced it)."""
    store = get_store()
    parts = []
    position = audio.start
    for start, count, key in audio.pieces:
        if start != position:
            return None
        try:
            data = store.read_bytes(key)
        except FileNotFoundError:
            return None
        if len(data) != count * 2:
            return None
        parts.append(np.frombuffer(data, dtype="<i2"))
        position += count
    if position != audio.end or not parts:
        return None
    return np.concatenate(parts).astype(np.float32) / 32768.0


def _draft(audio: live_services.OpenAudio) -> None:
    samples = open_samples(audio)
    if samples is None:
        logger.info("live video %s: provisional caption dropped (the open window changed)", audio.video_id)
        return
    settings = transcribe_settings()
    engine = load_engine(settings)
    language = settings.language or live_services.live_language(video_id=audio.video_id) or None
    with engine_turn_if_free() as free:
        # Never wait for the engine (the thread would be missed by committed work): a busy
        # engine drops this draft; the next comes after LIVE_PROVISIONAL_SECONDS more audio.
        if not free:
            logger.info("live video %s: provisional caption dropped (the engine is busy)", audio.video_id)
            return
        # Meanwhile a window may have closed: it goes first.
        if live_services.live_provisional_yield(video_id=audio.video_id):
            logger.info("live video %s: provisional caption dropped (a committed window waits)", audio.video_id)
            return
        started, cpu = time.perf_counter(), time.process_time()
        _detected, found = engine.transcribe(samples, language, draft=True)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    text = " ".join(segment.text for segment in found)
    recorded = live_services.live_provisional_record(audio=audio, text=text)
    logger.info(
        "live video %s: provisional caption of %.1f-%.1fs drafted in %.2fs (process CPU %.2fs), %s",
        audio.video_id, audio.start / 16000, audio.end / 16000, wall, cpu, "recorded" if recorded else "stale, dropped",
    )  # fmt: skip
