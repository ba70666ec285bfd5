"""The live transcript as Server-Sent Events (GET videos/N/transcript/live, issue 11).

Events (text/event-stream):

- `id: n` / `event: segment` / `data: {"index": n, "start", "end", "text", "words": [...]}`:
  committed segments, n = 0, 1, 2… in order, never changed once sent (the merge of the
  transcribed windows, which is also the final transcript's segment list);
- `event: provisional` / `data: {"start", "end", "text"}` (no id): the audio received after
  the last committed segment (`start` = the committed end, `end` = the decoded end), not
  committed yet. `text` is the provisional caption of the window still open — a cheap draft
  (greedy, no word times) redone every LIVE_PROVISIONAL_SECONDS of new audio, so it may lag
  `end` by a few seconds and change before the window is committed — and "" when there is
  none: before the first draft, while closed windows are still being transcribed (the
  window it drafted closed; its committed segments follow), or with LIVE_PROVISIONAL_SECONDS=0.
  Sent again whenever start, end or text changes;
- `event: done` / `data: {"status": "done", "segments": count}`, or `event: failed` /
  `data: {"status": "failed", "error": …}`: the last event, then the stream closes;
- `: keep-alive` comments at least every LIVE_KEEPALIVE_SECONDS.

`Last-Event-ID: n` (or `?last_event_id=n`) resumes after segment n. The stream reads the
database (`live_snapshot`), so it works the same whichever process transcribes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from recordplus.transcripts.live_merge import merge_windows
from recordplus.transcripts.models import LiveTranscript, LiveWindow, Transcript
from recordplus.videos.models import Video

POLL_SECONDS = 0.5
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Snapshot:
    """What the stream can say about a video right now."""

    state: str  # "running", "done" or "failed"
    segments: list[dict[str, Any]] = field(default_factory=list)
    provisional: dict[str, Any] | None = None
    error: str = ""


def live_snapshot(video_id: int) -> Snapshot:
    """The committed segments (and the provisional tail) of a video's transcript."""
    video = Video.objects.filter(pk=video_id).only("status", "error").first()
    if video is None:
        return Snapshot("failed", error="the video was deleted")
    transcript = Transcript.objects.filter(video_id=video_id).only("status", "segments", "error").first()
    if transcript is not None and transcript.status == Transcript.Status.DONE:
        return Snapshot("done", segments=list(transcript.segments))
    if transcript is not None and transcript.status == Transcript.Status.FAILED:
        return Snapshot("failed", error=transcript.error or "the transcription failed")
    if video.status in (Video.Status.FAILED, Video.Status.EXPIRED):
        return Snapshot("failed", error=video.error or f"the video is {video.status}")
    live = LiveTranscript.objects.filter(video_id=video_id).first()
    if live is None or live.status == LiveTranscript.Status.ABANDONED:
        return Snapshot("running")  # the whole-file transcript will say everything at once
    done: list[list[dict[str, Any]]] = []
    committed_end = 0.0
    for index, status, segments, end in LiveWindow.objects.filter(video_id=video_id).order_by("index").values_list(
        "index", "status", "segments", "end"
    ):
        if index != len(done) or status != LiveWindow.Status.DONE:
            break
        done.append(segments)
        committed_end = end
    segments = merge_windows(done)
    heard = live.decoded_samples / SAMPLE_RATE
    provisional = None
    if heard > committed_end:
        provisional = {"start": round(committed_end, 3), "end": round(heard, 3), "text": provisional_text(live, committed_end)}
    return Snapshot("running", segments=segments, provisional=provisional)


def provisional_text(live: LiveTranscript, committed_end: float) -> str:
    """The draft of the open window, when it is a draft of *this* open window and everything
    before that window is committed (else the tail's text would skip the closed windows)."""
    if live.status != LiveTranscript.Status.ACTIVE or not live.provisional_text:
        return ""
    if live.provisional_start != live.window_start or live.provisional_end <= live.window_start:
        return ""
    if round(committed_end * SAMPLE_RATE) < live.window_start:
        return ""
    return live.provisional_text


def event(name: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    """One SSE event (`data` as one line of JSON)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n".encode()


def comment(text: str) -> bytes:
    return f": {text}\n\n".encode()


def segment_event(index: int, segment: dict[str, Any]) -> bytes:
    data = {"index": index, "start": segment["start"], "end": segment["end"], "text": segment["text"],
            "words": segment.get("words") or []}  # fmt: skip
    return event("segment", data, index)


def resume_after(header: str | None, query: str | None) -> int:
    """The last segment index the client has (-1: none), from Last-Event-ID or ?last_event_id."""
    for raw in (header, query):
        if raw is None or not raw.strip():
            continue
        try:
            value = int(raw.strip())
        except ValueError:
            continue
        return max(value, -1)
    return -1


def events_for(snapshot: Snapshot, sent: int, last_provisional: dict[str, Any] | None) -> tuple[list[bytes], int, bool]:
    """The events a snapshot adds after segment `sent`: (events, new `sent`, stream over)."""
    out = []
    for index in range(sent + 1, len(snapshot.segments)):
        out.append(segment_event(index, snapshot.segments[index]))
        sent = index
    if snapshot.state == "done":
        out.append(event("done", {"status": "done", "segments": len(snapshot.segments)}))
        return out, sent, True
    if snapshot.state == "failed":
        out.append(event("failed", {"status": "failed", "error": snapshot.error}))
        return out, sent, True
    if snapshot.provisional is not None and snapshot.provisional != last_provisional:
        out.append(event("provisional", snapshot.provisional))
    return out, sent, False


async def live_events(video_id: int, *, after: int, keepalive: float, poll: float = POLL_SECONDS) -> AsyncIterator[bytes]:
    """The event stream of one video, from segment `after + 1` until done or failed."""
    from asgiref.sync import sync_to_async

    # Not thread-sensitive: a stream's reads must not queue behind the API's sync views.
    snapshot_of = sync_to_async(live_snapshot, thread_sensitive=False)
    yield b"retry: 2000\n\n"
    sent = after
    provisional: dict[str, Any] | None = None
    last_write = time.monotonic()
    while True:
        snapshot = await snapshot_of(video_id)
        out, sent, over = events_for(snapshot, sent, provisional)
        if snapshot.provisional is not None:
            provisional = snapshot.provisional
        for chunk in out:
            yield chunk
        if out:
            last_write = time.monotonic()
        if over:
            return
        if time.monotonic() - last_write >= keepalive:
            yield comment("keep-alive")
            last_write = time.monotonic()
        await asyncio.sleep(min(poll, keepalive))
