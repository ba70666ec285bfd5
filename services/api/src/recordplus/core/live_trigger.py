"""When the live decoder runs (issue 11): at most one decode step per upload every
LIVE_DECODE_INTERVAL_SECONDS, never leaving a received chunk undecoded.

A decode step reads every chunk received since the last one, so a step per chunk is not
needed: with 1 s pieces, most of a step's cost (its rows, its commit, its stored PCM) is the
same for one second of audio as for two. `chunk_received` sends the decode message at once
when the last step was sent long enough ago, else schedules one for when the interval is over
(unless one is already scheduled: it will read this chunk too). The last chunk of an upload
is never held back: it is what stop → transcript waits for.

The schedule lives in this process (each API process throttles its own uploads); a message
lost with a process is made up for by the next chunk or by the decode the assembler sends when
the upload is closed.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

from recordplus.core import messaging

_lock = threading.Lock()
_due: dict[int, float] = {}  # video → monotonic time its latest decode message runs at
_MAX_VIDEOS = 10_000


def chunk_received(video_id: int, *, last: bool = False, now: float | None = None) -> None:
    """A chunk with chunk_index was stored for `video_id`: make sure a decode step reads it."""
    interval = settings.LIVE_DECODE_INTERVAL_SECONDS
    now = time.monotonic() if now is None else now
    with _lock:
        due = _due.get(video_id)
        if last or interval <= 0 or due is None or now >= due + interval:
            delay = 0.0
        elif now < due:
            return  # a message is scheduled for later than this chunk: it reads this one too
        else:
            delay = due + interval - now
        _due[video_id] = now + delay
        if len(_due) > _MAX_VIDEOS:  # forget the oldest uploads (their next chunk sends at once)
            for key in sorted(_due, key=_due.__getitem__)[: len(_due) - _MAX_VIDEOS]:
                del _due[key]
    messaging.send_live_decode(video_id, delay_seconds=delay or None)


def upload_closed(video_id: int) -> None:
    """Every chunk of the upload is in (its total was declared): decode the tail now (a no-op
    for an upload that is not transcribed live)."""
    with _lock:
        _due.pop(video_id, None)
    messaging.send_live_decode(video_id)
