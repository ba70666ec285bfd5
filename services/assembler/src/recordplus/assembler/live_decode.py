"""The live decoder (issue 11): new chunks → audio blocks → 16 kHz PCM → windows cut at pauses.

Runs on the assembler queue as `live_decode(video_id)`, sent after every chunk stored with a
chunk_index (and by the assembler once the upload is closed, so the tail is decoded). It reads
the stream from where the last step stopped — the chunks by index while they exist, the
stitched `source.bin` once the video is ready — never from the start. Each closed window is
stored as a WAV under the video's `live/` prefix and sent to the transcriber.

A step is recorded (`live_services.live_record_step`) only after its audio is stored, under
deterministic keys, so a step redone after a crash writes the same objects. Anything the live
path cannot follow (not WebM, no audio, pieces without chunk_index) abandons it: the whole
file is transcribed after assembly instead, as for every other upload.
"""

from __future__ import annotations

import functools
import io
import logging
import shutil
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from django.conf import settings
from recordplus.assembler.live_audio import (
    SAMPLE_RATE,
    WindowRules,
    cut_windows,
    decode_step,
    wav_bytes,
)
from recordplus.assembler.live_mp4 import stream_reader
from recordplus.assembler.live_webm import (
    AudioBlock,
    LiveStreamError,
    WebmCursor,
)
from recordplus.core import jobs
from recordplus.core.storage import get_store, keys
from recordplus.core.tempdirs import make_workdir
from recordplus.transcripts import live_services
from recordplus.transcripts.live_services import NewWindow
from recordplus.transcripts.models import LiveTranscript
from recordplus.videos.models import Chunk, Video

logger = logging.getLogger(__name__)

MAX_STEP_BYTES = 16 << 20  # bytes read per step (a burst at finalize takes several steps)
MAX_OPEN_SECONDS = 120.0  # the open window never holds more (LIVE_WINDOW_MAX_SECONDS forces cuts)

# The open window's PCM of recent videos, so a step does not read it back from the store.
_cache: OrderedDict[int, tuple[int, int, np.ndarray]] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_VIDEOS = 32


def rules() -> WindowRules:
    return WindowRules(
        min_seconds=settings.LIVE_WINDOW_MIN_SECONDS,
        max_seconds=settings.LIVE_WINDOW_MAX_SECONDS,
        pause_seconds=settings.LIVE_PAUSE_SECONDS,
    )


def live_decode(video_id: int) -> None:
    """Decode whatever new audio video `video_id` has received; idempotent. A duplicate message
    while another run holds the decoder is dropped: that run looks again after letting go."""
    if live_services.live_start(video_id=video_id) is None:
        return
    for _ in range(100):  # bounded: each round needs something new since the previous one
        live = live_services.live_claim_decode(video_id=video_id)
        if live is None:
            return
        try:
            renew = functools.partial(live_services.live_renew_decode, live=live)
            with jobs.heartbeat(renew, every=settings.LIVE_LEASE_SECONDS / 3):
                seen = _run(live)
        except BaseException as exc:
            if isinstance(exc, LiveStreamError):
                live_services.live_abandon(video_id=video_id, reason=str(exc))
                return
            failure = jobs.classify(exc)
            if failure.permanent and isinstance(exc, Exception):
                live_services.live_abandon(video_id=video_id, reason=failure.message)
                return
            raise  # transient: Dramatiq redelivers, the next run resumes from the rows
        finally:
            live_services.live_release_decode(live=live)
        if not _more_to_read(video_id, seen):
            return


def _more_to_read(video_id: int, seen: tuple[int, bool]) -> bool:
    """Whether chunks landed (or the upload closed) after the run's last read: a message
    dropped while the decoder was held is made up for here."""
    live = live_services.live_get(video_id=video_id)
    if live is None or live.status != LiveTranscript.Status.ACTIVE:
        return False
    video = Video.objects.filter(pk=video_id).first()
    if video is None:
        return False
    return (Chunk.objects.filter(video_id=video_id).count(), _upload_closed(video)) != seen


def _upload_closed(video: Video) -> bool:
    """No chunk can land any more: assembly started (or ended), or the declared total is in."""
    if video.status == Video.Status.READY or video.assembly_started_at is not None:
        return True
    if video.declared_chunks is not None:
        return Chunk.objects.filter(video=video).count() >= video.declared_chunks
    return False


def _run(live: LiveTranscript) -> tuple[int, bool]:
    """Steps until there is nothing new to read (or the recording is decoded to its end);
    returns what the last read saw: how many chunk rows, and whether the upload was closed."""
    workdir = make_workdir("recordplus-assemble-", label=f"live-{live.video_id}")
    written: list[str] = []
    try:
        for _ in range(10_000):
            video = Video.objects.filter(pk=live.video_id).first()
            seen = (Chunk.objects.filter(video_id=live.video_id).count(), video is not None and _upload_closed(video))
            if not _step(live, workdir, written):
                return seen
        return seen
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if written and not Video.objects.filter(pk=live.video_id).exists():
            # Deleted while this run wrote: remove what it stored, one key at a time (the
            # delete's own clean-up of the folder may be running right now).
            store = get_store()
            for key in written:
                store.delete(key)


def _read(live: LiveTranscript, video: Video, cursor: WebmCursor) -> tuple[bytes, bool, int, int]:
    """(bytes from cursor.offset, whether they run to the end of the recording, the new
    next_chunk, its chunk_start)."""
    store = get_store()
    closed = _upload_closed(video)
    chunks = list(
        Chunk.objects.filter(video=video, index__gte=live.next_chunk).order_by("index").values("index", "indexed", "size", "key")
    )
    if video.status == Video.Status.READY and not chunks:
        if not video.source_key:
            raise LiveStreamError("the video is ready but has no stored source")
        size = store.size(video.source_key)
        end = min(size, cursor.offset + MAX_STEP_BYTES)
        data = b"".join(store.read_range(video.source_key, cursor.offset, end - 1)) if end > cursor.offset else b""
        return data, end >= size, live.next_chunk, live.chunk_start
    parts: list[bytes] = []
    index, start = live.next_chunk, live.chunk_start
    read = 0
    next_chunk, chunk_start = index, start
    reached_last = True
    for chunk in chunks:
        if chunk["index"] != index:
            reached_last = False
            break  # a gap: wait for the missing piece
        if not chunk["indexed"]:
            raise LiveStreamError("pieces were sent without chunk_index")
        end = start + chunk["size"]
        if end <= cursor.offset:  # wholly behind the cursor (skipped over): never read
            next_chunk, chunk_start = index + 1, end
        else:
            if read >= MAX_STEP_BYTES:
                reached_last = False
                break
            body = store.read_bytes(chunk["key"])
            parts.append(body[max(cursor.offset - start, 0) :] if not parts else body)
            read += len(body)
        index, start = index + 1, end
    data = b"".join(parts)
    at_end = closed and reached_last
    return data, at_end, next_chunk, chunk_start


def _advance(live: LiveTranscript, video: Video, cursor: WebmCursor, next_chunk: int, chunk_start: int) -> tuple[int, int]:
    """Move next_chunk past the chunks the cursor has left behind."""
    if video.status == Video.Status.READY and not Chunk.objects.filter(video=video).exists():
        return next_chunk, chunk_start
    for size in Chunk.objects.filter(video=video, index__gte=next_chunk).order_by("index").values_list("size", flat=True):
        if chunk_start + size > cursor.offset:
            break
        next_chunk, chunk_start = next_chunk + 1, chunk_start + size
    return next_chunk, chunk_start


def _open_pcm(live: LiveTranscript) -> np.ndarray:
    """The open window's PCM: from this process's cache, else from its stored pieces."""
    with _cache_lock:
        cached = _cache.get(live.video_id)
        if cached is not None and cached[0] == live.window_start and cached[1] == live.decoded_samples:
            _cache.move_to_end(live.video_id)
            return cached[2]
    store = get_store()
    pieces = [np.frombuffer(store.read_bytes(key), dtype="<i2") for _start, _count, key in live.open_pieces]
    pcm = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
    expected = live.decoded_samples - live.window_start
    if len(pcm) != expected:
        raise LiveStreamError(f"the open window's stored audio has {len(pcm)} samples, not {expected}")
    return pcm


def _remember(video_id: int, window_start: int, decoded: int, pcm: np.ndarray) -> None:
    with _cache_lock:
        _cache[video_id] = (window_start, decoded, pcm)
        _cache.move_to_end(video_id)
        while len(_cache) > _CACHE_VIDEOS:
            _cache.popitem(last=False)


def _step(live: LiveTranscript, workdir: Path, written: list[str]) -> bool:
    """One decode step; False when there was nothing new (or the recording ended)."""
    video = Video.objects.filter(pk=live.video_id).first()
    if video is None:
        return False
    if video.status in (Video.Status.FAILED, Video.Status.EXPIRED):
        raise LiveStreamError(f"the video is {video.status}")
    cursor = WebmCursor.from_json(live.cursor)
    try:
        data, at_end, next_chunk, chunk_start = _read(live, video, cursor)
    except FileNotFoundError:
        # The video became ready while we read: its chunks are removed once they are one
        # object, so the rest is read from that object (the stitched source) instead.
        video = Video.objects.filter(pk=live.video_id).first()
        if video is None or video.status != Video.Status.READY:
            raise ConnectionError("a chunk vanished while the video was not ready yet") from None
        data, at_end, next_chunk, chunk_start = _read(live, video, cursor)
    before = cursor.offset
    walked = stream_reader(cursor, data).walk(data, at_end=at_end)  # WebM or fragmented MP4
    # At the end, an element still cut is a truncated last write: it will never complete.
    ended = at_end or cursor.done
    if not walked.blocks and cursor.offset == before and not ended:
        return False
    step = decode_step(
        cursor,
        held=AudioBlock.from_json(live.held) if live.held else None,
        priming=[AudioBlock.from_json(b) for b in live.priming],
        blocks=walked.blocks,
        decoded=live.decoded_samples,
        ended=ended,
        workdir=workdir,
    )
    pcm = np.concatenate([_open_pcm(live), step.pcm])
    decoded, keep, priming = step.decoded, step.held, step.priming
    if len(pcm) > MAX_OPEN_SECONDS * SAMPLE_RATE and not ended:
        raise LiveStreamError("the open window grew beyond its bound")
    cuts = cut_windows(pcm, rules(), final=ended)
    store = get_store()
    public_id = video.public_id
    windows: list[NewWindow] = []
    window_start = live.window_start
    index = live.windows
    previous = 0
    for cut in cuts:
        key = keys.live_window(public_id, index)
        written.append(key)
        store.write(key, io.BytesIO(wav_bytes(pcm[previous:cut])), content_type="audio/wav")
        windows.append(NewWindow(index, (window_start + previous) / SAMPLE_RATE, (window_start + cut) / SAMPLE_RATE, key))
        index += 1
        previous = cut
    remainder = pcm[previous:]
    new_start = window_start + previous
    old_pieces = [list(piece) for piece in live.open_pieces]
    if previous == 0:  # no window closed: only the new audio is stored, as one more piece
        added = pcm[live.decoded_samples - live.window_start :]
        pieces = old_pieces
        if len(added):
            key = keys.live_pcm(public_id, live.decoded_samples)
            written.append(key)
            store.write(key, io.BytesIO(added.astype("<i2").tobytes()))
            pieces = [*old_pieces, [live.decoded_samples, len(added), key]]
    else:  # what is left after the last cut becomes the open window's one piece
        pieces = []
        if len(remainder):
            key = keys.live_pcm(public_id, new_start)
            written.append(key)
            store.write(key, io.BytesIO(remainder.astype("<i2").tobytes()))
            pieces = [[new_start, len(remainder), key]]
    next_chunk, chunk_start = _advance(live, video, cursor, next_chunk, chunk_start)
    recorded = live_services.live_record_step(
        live=live,
        fields={
            "cursor": cursor.to_json(),
            "next_chunk": next_chunk,
            "chunk_start": chunk_start,
            "decoded_samples": decoded,
            "window_start": new_start,
            "open_pieces": pieces,
            "held": keep.to_json() if keep else None,
            "priming": [b.to_json() for b in priming],
        },
        windows=windows,
        ended=ended,
    )
    if not recorded:
        return False
    _remember(live.video_id, new_start, decoded, remainder)
    for _start, _count, key in old_pieces:
        if [_start, _count, key] not in pieces:
            store.delete(key)
    if windows:
        logger.info(
            "live video %s: windows %s closed (%.1fs of audio decoded)",
            live.video_id, [w.index for w in windows], decoded / SAMPLE_RATE,
        )  # fmt: skip
    return not ended
