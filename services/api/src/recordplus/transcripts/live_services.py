"""Writes for live transcription (issue 11): the decode cursor and the windows.

The decoder (assembler queue) and the window transcriber (transcriber queue) change
`LiveTranscript` and `LiveWindow` rows only through these functions. Like every job here, a
decode step and a window hold a *lease*: a worker that dies leaves a lease that runs out, and
the step or window is redone from what the rows say (a step is only recorded once its audio
is stored, so a redone step writes the same objects again). Anything that makes the live path
give up (`live_abandon`) hands the video to the whole-file transcription, which runs as it
always did.

The open window's provisional caption is best effort: a decode step that grew the open window
by LIVE_PROVISIONAL_SECONDS since the last request (and finds no closed window of the video
waiting or running, and no provisional pass in flight) asks the transcriber for a cheap pass
(`live_transcribe_provisional`), holding a short lease so at most one runs per video. Its text
is recorded only while its window is still the open one, and cleared when that window closes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from recordplus.core import messaging
from recordplus.transcripts.models import LiveTranscript, LiveWindow, Transcript
from recordplus.videos.models import Chunk, Video

logger = logging.getLogger(__name__)

_OPEN = (LiveTranscript.Status.ACTIVE, LiveTranscript.Status.ENDED)


def live_enabled() -> bool:
    return bool(settings.LIVE_TRANSCRIPTION)


def live_get(*, video_id: int) -> LiveTranscript | None:
    return LiveTranscript.objects.filter(video_id=video_id).first()


def live_start(*, video_id: int) -> LiveTranscript | None:
    """The video's live transcription, created when the upload qualifies: chunks sent with
    chunk_index (0 and 1 at least, all indexed), still uploading. None otherwise (the
    whole-file transcription will do)."""
    if not live_enabled():
        return None
    existing = live_get(video_id=video_id)
    if existing is not None:
        return existing
    video = Video.objects.filter(pk=video_id).only("status").first()
    if video is None or video.status != Video.Status.UPLOADING:
        return None
    chunks = list(Chunk.objects.filter(video_id=video_id, index__lte=1).values_list("index", "indexed"))
    if sorted(chunks) != [(0, True), (1, True)]:
        return None  # a single piece so far, or pieces without chunk_index (the original extension)
    live, _ = LiveTranscript.objects.get_or_create(video_id=video_id)
    return live


def _lease() -> timedelta:
    return timedelta(seconds=settings.LIVE_LEASE_SECONDS)


def live_claim_decode(*, video_id: int) -> LiveTranscript | None:
    """Take the video's decoder for one run (a fresh lease); None when there is nothing to do
    (not live, finished, abandoned, or another worker holds the lease)."""
    now = timezone.now()
    with transaction.atomic():
        live = LiveTranscript.objects.select_for_update().filter(video_id=video_id).first()
        if live is None or live.status != LiveTranscript.Status.ACTIVE:
            return None
        if live.lease_expires_at is not None and live.lease_expires_at > now:
            return None
        live.attempts += 1
        live.lease_expires_at = now + _lease()
        live.save(update_fields=["attempts", "lease_expires_at", "updated_at"])
    return live


def live_renew_decode(*, live: LiveTranscript) -> bool:
    return (
        LiveTranscript.objects.filter(pk=live.pk, attempts=live.attempts, status=LiveTranscript.Status.ACTIVE).update(
            lease_expires_at=timezone.now() + _lease()
        )
        > 0
    )


def live_release_decode(*, live: LiveTranscript) -> None:
    """The run is over (for now): the next message may claim the decoder at once."""
    LiveTranscript.objects.filter(pk=live.pk, attempts=live.attempts).update(lease_expires_at=None)


@dataclass(frozen=True)
class NewWindow:
    index: int
    start: float
    end: float
    audio_key: str


def live_record_step(*, live: LiveTranscript, fields: dict[str, Any], windows: list[NewWindow], ended: bool) -> bool:
    """Record one decode step (its audio already stored): the cursor moves, closed windows
    are created and sent to the transcriber after commit, and so is a provisional caption
    pass when one is due. False when this run lost its claim (another run took the decoder
    over; it will redo the step)."""
    with transaction.atomic():
        locked = LiveTranscript.objects.select_for_update().filter(pk=live.pk).first()
        if locked is None or locked.attempts != live.attempts or locked.status != LiveTranscript.Status.ACTIVE:
            return False
        previous_start = locked.window_start
        for name, value in fields.items():
            setattr(locked, name, value)
        if windows or ended or locked.window_start != previous_start:
            _clear_provisional(locked)  # its window closed: its draft must never show again
        for window in windows:
            LiveWindow.objects.get_or_create(
                video_id=locked.video_id,
                index=window.index,
                defaults={"start": window.start, "end": window.end, "audio_key": window.audio_key},
            )
        locked.windows = max([locked.windows, *[w.index + 1 for w in windows]])
        locked.steps += 1
        if ended:
            locked.status = LiveTranscript.Status.ENDED
            locked.ended_at = timezone.now()
            locked.lease_expires_at = None
        provisional = not windows and not ended and _provisional_due(locked)
        if provisional:
            locked.provisional_mark = locked.decoded_samples
            locked.provisional_lease_expires_at = timezone.now() + _provisional_lease()
        locked.save()
        video_id = locked.video_id
        for window in windows:
            transaction.on_commit(lambda index=window.index: messaging.send_live_window(video_id, index))
        if ended and not windows:
            transaction.on_commit(lambda: _finish_if_ready(video_id))
        if provisional:
            mark = locked.provisional_mark
            transaction.on_commit(lambda: _send_provisional(video_id, mark))
    for name, value in fields.items():
        setattr(live, name, value)
    live.windows, live.steps, live.status = locked.windows, locked.steps, locked.status
    return True


def live_abandon(*, video_id: int, reason: str) -> None:
    """Give the live path up: the whole-file transcription runs instead (at once when the
    video is ready and its transcript waits; otherwise when it becomes ready, as always)."""
    with transaction.atomic():
        updated = LiveTranscript.objects.filter(
            video_id=video_id, status__in=_OPEN
        ).update(status=LiveTranscript.Status.ABANDONED, error=reason[:2000], lease_expires_at=None)
        if not updated:
            return
        waiting = Transcript.objects.filter(
            video_id=video_id, status__in=[Transcript.Status.PENDING, Transcript.Status.RUNNING]
        ).exists()
        if waiting:
            transaction.on_commit(lambda: messaging.send_transcribe(video_id))
    logger.warning("live transcription of video %s abandoned (the whole file is transcribed instead): %s", video_id, reason)


# --- windows ------------------------------------------------------------------------------


def live_window_claim(*, video_id: int, index: int) -> LiveWindow | None:
    """Take window `index` for a worker: pending (or running with an expired lease) becomes
    running with one more attempt. None when done, failed, held, gone, or not live any more.
    A window claimed more than LIVE_MAX_ATTEMPTS times (its workers died on it) fails, and
    with it the live path."""
    now = timezone.now()
    with transaction.atomic():
        window = LiveWindow.objects.select_for_update().filter(video_id=video_id, index=index).first()
        if window is None or window.status in (LiveWindow.Status.DONE, LiveWindow.Status.FAILED):
            return None
        if not LiveTranscript.objects.filter(video_id=video_id, status__in=_OPEN).exists():
            return None
        if window.status == LiveWindow.Status.RUNNING and window.lease_expires_at and window.lease_expires_at > now:
            return None
        window.status = LiveWindow.Status.RUNNING
        window.attempts += 1
        window.lease_expires_at = now + _lease()
        window.save(update_fields=["status", "attempts", "lease_expires_at"])
        if window.attempts > settings.LIVE_MAX_ATTEMPTS:
            live_window_fail(window=window, error=f"gave up after {settings.LIVE_MAX_ATTEMPTS} attempts")
            return None
    return window


def live_windows_claim_waiting(*, limit: int, exclude: int) -> list[LiveWindow]:
    """Up to `limit` more windows waiting for a transcriber (pending, of recordings still
    transcribed live; the oldest first, window `exclude` left out), each claimed as
    `live_window_claim` claims one: a transcriber that decodes windows in batches (WhisperX on a
    GPU) takes them along with its own. Their own messages then find them held (and come back
    when the lease ends: done, or redone after a dead worker)."""
    if limit <= 0:
        return []
    waiting = (
        LiveWindow.objects.filter(status=LiveWindow.Status.PENDING, video__live_transcript__status__in=_OPEN)
        .exclude(pk=exclude)
        .order_by("created_at", "video_id", "index")
        .values_list("video_id", "index")[: limit * 2]
    )
    claimed: list[LiveWindow] = []
    for video_id, index in waiting:
        window = live_window_claim(video_id=video_id, index=index)
        if window is not None:
            claimed.append(window)
        if len(claimed) >= limit:
            break
    return claimed


def live_window_wait(*, video_id: int, index: int) -> float:
    """Seconds until another worker's lease on the window runs out (0 when none)."""
    lease = (
        LiveWindow.objects.filter(video_id=video_id, index=index, status=LiveWindow.Status.RUNNING)
        .values_list("lease_expires_at", flat=True)
        .first()
    )
    return 0.0 if lease is None else max((lease - timezone.now()).total_seconds(), 0.0)


def live_window_renew(*, window: LiveWindow) -> bool:
    return (
        LiveWindow.objects.filter(pk=window.pk, attempts=window.attempts, status=LiveWindow.Status.RUNNING).update(
            lease_expires_at=timezone.now() + _lease()
        )
        > 0
    )


def live_language(*, video_id: int) -> str:
    """The language the earliest transcribed window found ("" before any), so every later
    window of the recording keeps it."""
    return (
        LiveWindow.objects.filter(video_id=video_id, status=LiveWindow.Status.DONE)
        .exclude(language="")
        .order_by("index")
        .values_list("language", flat=True)
        .first()
        or ""
    )


def live_window_complete(
    *, window: LiveWindow, segments: list[dict[str, Any]], language: str, wall_seconds: float
) -> bool:
    """Record a window's segments (times from the recording's start); False when this run no
    longer held it (another run took over and will record the same)."""
    updated = LiveWindow.objects.filter(
        pk=window.pk, attempts=window.attempts, status=LiveWindow.Status.RUNNING
    ).update(
        status=LiveWindow.Status.DONE,
        segments=segments,
        language=language,
        wall_seconds=round(wall_seconds, 3),
        error="",
        lease_expires_at=None,
        finished_at=timezone.now(),
    )
    return updated > 0


def live_window_release(*, window: LiveWindow, error: str) -> None:
    LiveWindow.objects.filter(pk=window.pk, attempts=window.attempts).update(
        status=LiveWindow.Status.PENDING, error=error[:2000], lease_expires_at=None
    )


def live_window_fail(*, window: LiveWindow, error: str) -> None:
    """The window cannot be transcribed: the live path gives up (whole-file instead)."""
    LiveWindow.objects.filter(pk=window.pk).update(
        status=LiveWindow.Status.FAILED, error=error[:2000], lease_expires_at=None
    )
    live_abandon(video_id=window.video_id, reason=f"window {window.index} failed: {error}")


def live_ready_to_finish(*, video_id: int) -> bool:
    """The recording is decoded to its end, every window is transcribed and the video is
    ready: the Transcript can be completed from the windows."""
    live = live_get(video_id=video_id)
    if live is None or live.status != LiveTranscript.Status.ENDED:
        return False
    if not Video.objects.filter(pk=video_id, status=Video.Status.READY).exists():
        return False
    done = LiveWindow.objects.filter(video_id=video_id, status=LiveWindow.Status.DONE).count()
    return done == live.windows


def _finish_if_ready(video_id: int) -> None:
    if live_ready_to_finish(video_id=video_id):
        messaging.send_transcribe(video_id)


def live_window_finished(*, video_id: int) -> None:
    """After a window is recorded: when it was the last one and the video is ready, the
    transcriber completes the Transcript (the same message the assembler sends at ready)."""
    _finish_if_ready(video_id)


def live_mark_finished(*, video_id: int) -> None:
    LiveTranscript.objects.filter(video_id=video_id, status=LiveTranscript.Status.ENDED).update(
        status=LiveTranscript.Status.FINISHED, lease_expires_at=None
    )


def live_reconcile(*, stale_seconds: float | None) -> list[int]:
    """Re-enqueue live work the database says is unfinished; returns the videos touched.

    `stale_seconds=None` (embedded start-up: the in-memory broker forgot everything, no other
    worker exists) takes every lease back; otherwise only expired leases and windows left
    pending for that long are picked up."""
    now = timezone.now()
    lives = LiveTranscript.objects.filter(status=LiveTranscript.Status.ACTIVE)
    windows = LiveWindow.objects.filter(
        status__in=[LiveWindow.Status.PENDING, LiveWindow.Status.RUNNING], video__live_transcript__status__in=_OPEN
    )
    if stale_seconds is None:
        lives.update(lease_expires_at=None, provisional_lease_expires_at=None)
        windows.filter(status=LiveWindow.Status.RUNNING).update(status=LiveWindow.Status.PENDING, lease_expires_at=None)
    else:
        lives = lives.filter(Q(lease_expires_at__lt=now) | Q(lease_expires_at__isnull=True)).filter(
            updated_at__lt=now - timedelta(seconds=stale_seconds)
        )
        windows = windows.filter(
            Q(status=LiveWindow.Status.RUNNING, lease_expires_at__lt=now)
            | Q(status=LiveWindow.Status.PENDING, created_at__lt=now - timedelta(seconds=stale_seconds))
        )
    touched: set[int] = set()
    for video_id in lives.values_list("video_id", flat=True):
        messaging.send_live_decode(video_id)
        touched.add(video_id)
    for video_id, index in windows.values_list("video_id", "index"):
        messaging.send_live_window(video_id, index)
        touched.add(video_id)
    for video_id in LiveTranscript.objects.filter(status=LiveTranscript.Status.ENDED).values_list("video_id", flat=True):
        _finish_if_ready(video_id)
    if touched:
        logger.info("reconciler re-enqueued live transcription work of videos %s", sorted(touched))
    return sorted(touched)


# --- the provisional caption (best effort) -----------------------------------------------

SAMPLE_RATE = 16000
# The hold of one provisional pass, from its request: a pass takes seconds, and one whose
# worker died (or whose message was lost) only delays the next request this long.
PROVISIONAL_LEASE_SECONDS = 60
_BUSY = (LiveWindow.Status.PENDING, LiveWindow.Status.RUNNING)


def _provisional_lease() -> timedelta:
    return timedelta(seconds=PROVISIONAL_LEASE_SECONDS)


def _clear_provisional(live: LiveTranscript) -> None:
    live.provisional_text = ""
    live.provisional_start = live.provisional_end = 0


def _windows_busy(video_id: int) -> bool:
    return LiveWindow.objects.filter(video_id=video_id, status__in=_BUSY).exists()


def _provisional_due(live: LiveTranscript) -> bool:
    """Whether a step that leaves `live` (locked, fields applied, no window closed) should
    ask for a provisional pass: enabled, the open window grew by LIVE_PROVISIONAL_SECONDS
    since the last request (or since it opened), no pass in flight, no closed window of the
    video waiting or running (committed windows go first)."""
    every = float(settings.LIVE_PROVISIONAL_SECONDS)
    if every <= 0:
        return False
    grown = live.decoded_samples - max(live.provisional_mark, live.window_start)
    if grown < every * SAMPLE_RATE:
        return False
    lease = live.provisional_lease_expires_at
    if lease is not None and lease > timezone.now():
        return False
    return not _windows_busy(live.video_id)


def _send_provisional(video_id: int, mark: int) -> None:
    try:
        messaging.send_live_provisional(video_id, mark)
    except Exception:  # best effort: a broker hiccup must not fail the decode step
        logger.warning("live video %s: provisional caption request not sent", video_id, exc_info=True)
        LiveTranscript.objects.filter(video_id=video_id, provisional_mark=mark).update(provisional_lease_expires_at=None)


@dataclass(frozen=True)
class OpenAudio:
    """The open window as a provisional pass found it: samples [start, end) in `pieces`."""

    video_id: int
    mark: int
    start: int
    end: int
    pieces: list[tuple[int, int, str]]


def live_provisional_claim(*, video_id: int, mark: int) -> OpenAudio | None:
    """Start the provisional pass requested at `mark`: its lease is renewed and the open
    window's current pieces returned. None when it is not worth running (any more): disabled,
    not active, superseded by a newer request, a closed window waiting or running (it goes
    first), or nothing open."""
    if settings.LIVE_PROVISIONAL_SECONDS <= 0:
        return None
    with transaction.atomic():
        live = LiveTranscript.objects.select_for_update().filter(video_id=video_id).first()
        if live is None or live.provisional_mark != mark:
            return None
        if live.status != LiveTranscript.Status.ACTIVE or _windows_busy(video_id):
            live.provisional_lease_expires_at = None
            live.save(update_fields=["provisional_lease_expires_at"])
            return None
        if live.decoded_samples <= live.window_start or not live.open_pieces:
            live.provisional_lease_expires_at = None
            live.save(update_fields=["provisional_lease_expires_at"])
            return None
        live.provisional_lease_expires_at = timezone.now() + _provisional_lease()
        live.save(update_fields=["provisional_lease_expires_at"])
    pieces = [(int(start), int(count), str(key)) for start, count, key in live.open_pieces]
    return OpenAudio(video_id, mark, live.window_start, live.decoded_samples, pieces)


def live_provisional_yield(*, video_id: int) -> bool:
    """Whether a provisional pass should step aside now: a closed window of the video waits
    or runs (it needs the engine more), or the live path is no longer active."""
    if _windows_busy(video_id):
        return True
    return not LiveTranscript.objects.filter(video_id=video_id, status=LiveTranscript.Status.ACTIVE).exists()


def live_provisional_record(*, audio: OpenAudio, text: str) -> bool:
    """Record the draft of samples [audio.start, audio.end) — only while that window is still
    the open one (a window that closed meanwhile never gets stale text) and no later draft of
    it is recorded; releases the pass's lease. True when recorded."""
    with transaction.atomic():
        live = LiveTranscript.objects.select_for_update().filter(video_id=audio.video_id).first()
        if live is None:
            return False
        fresh = (
            live.status == LiveTranscript.Status.ACTIVE
            and live.window_start == audio.start
            and live.decoded_samples >= audio.end
            and not (live.provisional_start == audio.start and live.provisional_end > audio.end)
        )
        update = ["provisional_lease_expires_at"] if live.provisional_mark == audio.mark else []
        if update:
            live.provisional_lease_expires_at = None
        if fresh:
            live.provisional_text = text
            live.provisional_start, live.provisional_end = audio.start, audio.end
            update += ["provisional_text", "provisional_start", "provisional_end"]
        if update:
            live.save(update_fields=update)
    return fresh


def live_provisional_release(*, video_id: int, mark: int) -> None:
    """The pass requested at `mark` is over (dropped or failed): the next may be requested."""
    LiveTranscript.objects.filter(video_id=video_id, provisional_mark=mark).update(provisional_lease_expires_at=None)
