"""Prove that a stitched recording is whole: its container parses to the very last byte.

`verify_whole` walks a WebM/Matroska file element by element, or an MP4 file box by box, and
raises `CorruptMedia` when the walk does not end exactly at the end of the file (a truncated
element, garbage in the middle or at the end), when a timestamp goes backwards (a cluster
timecode, a track's block timestamps, a fragment's decode time), or when the duration the file
declares disagrees with where its media really ends. Those are the corruptions a wrong chunk
order produces: a file that parses to the end in the wrong order is practically impossible.

The walkers here are also what `recordplus.assembler.ordering` uses to put pieces back in
order, so they are written to be resumed: a walk covers one piece, stops at the piece's last
byte and returns a small, hashable state (where the next element starts, which elements are
open, the bytes of an element header cut in two, what the header said, the last timestamps);
walking the next piece from that state continues exactly where the bytes left off.

Bounded by design: only element/box headers and a few small values (DocType, Timecode, a
block's first bytes, `moof`) are read; payloads are skipped with seeks, so time and memory do
not grow with payload bytes. Nesting depth, the number of elements walked, the density of
elements per byte and every value read are capped; hitting a cap is a rejection, never an
allocation. This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from recordplus.assembler.errors import MediaRejected

__all__ = ["CorruptMedia", "WholeReport", "verify_whole"]


class CorruptMedia(MediaRejected):
    """The stitched recording is not whole (truncated, garbled, out of order); `str()` says where."""


@dataclass(frozen=True)
class WholeReport:
    """What `verify_whole` found in a file it could walk (or why it did not check it)."""

    container: str  # "webm", "matroska", "mp4", "avi", "unknown"
    checked: bool  # False: a format this module does not walk (AVI, ...); nothing was proven
    elements: int  # EBML elements or MP4 boxes walked
    last_timestamp: float | None  # seconds: the latest block / fragment timestamp seen
    duration: float | None  # seconds, when the file declares one
    fragmented: bool = False  # MP4 with moof/mdat fragments
    note: str = ""


# Limits. Real recordings are far inside them (an hour of MediaRecorder WebM is ~300k elements,
# a few hundred bytes each); a hostile upload hits one and is rejected.
MAX_DEPTH = 12  # EBML nesting (Segment > Cluster > BlockGroup > ... is 4)
MAX_ELEMENTS_PER_WALK = 20_000_000
ELEMENT_ALLOWANCE = 20_000  # elements any walk may take before the density rule applies
MIN_BYTES_PER_ELEMENT = 16  # on average; an Opus block at 6 kbit/s is ~20 bytes
MAX_VALUE_BYTES = 256  # a string/number element's payload (DocType, CodecID, Timecode, ...)
MAX_TRACKS = 64
MAX_MOOF_BYTES = 4 << 20  # a fragment's index (moof) is read whole; Chromium's are ~350 bytes
MAX_MOOF_BYTES_IN_PIECES = 256 << 10  # ... and in a piece walk, where it may be carried over
MAX_MOOV_BYTES = 256 << 10  # in a piece walk, moov is read whole (fragmented: ~1-2 KiB)
MAX_SAMPLES_CHECKED = 4096  # per fragment: beyond this, an mdat is skipped without sample checks
MAX_TABLE_ENTRIES = 50_000_000  # stts/stco entries of a plain MP4, read in 64 KiB slices
# A block of a codec that reorders frames (H.264, HEVC, MPEG-4 part 2, ...) may carry an
# earlier timestamp than one before it, by at most a few frames: allow this much, no more.
REORDER_WINDOW_S = 2.0
DURATION_TOLERANCE_S = 1.0  # plus DURATION_TOLERANCE_FRACTION of the declared duration
DURATION_TOLERANCE_FRACTION = 0.02

INF = 1 << 62  # "beyond any file": the end of an element that runs to the end of the stream


class Invalid(Exception):
    """The bytes are not (or no longer) a valid stream at this point; `str()` says why.

    Internal to the assembler: `verify_whole` turns it into CorruptMedia, the ordering search
    into "this piece cannot follow that one".
    """


class LimitHit(Invalid):
    """A bound of this module was reached (too deep, too many elements, a value too large)."""


class Budget:
    """Elements left for a whole search (shared by every walk of one `order_pieces` call)."""

    __slots__ = ("left",)

    def __init__(self, elements: int) -> None:
        self.left = elements


def sniff(head: bytes) -> str | None:
    """'ebml' or 'mp4' when `head` (the first bytes of a stream) starts with that header."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "ebml"
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return "mp4"
    return None


class _Bytes:
    """Reads of one walk: pending bytes (cut off the previous piece) followed by the piece's file."""

    __slots__ = ("end", "fd", "pending", "pending_start", "start")

    def __init__(self, fd: int, start: int, size: int, pending: bytes) -> None:
        self.fd = fd
        self.start = start
        self.end = start + size
        self.pending = pending
        self.pending_start = start - len(pending)

    def read(self, pos: int, count: int) -> bytes:
        """Up to `count` bytes at stream offset `pos`; fewer only where the piece ends."""
        count = min(count, self.end - pos)
        if count <= 0:
            return b""
        if pos >= self.start:
            return os.pread(self.fd, count, pos - self.start)
        head = self.pending[pos - self.pending_start :]
        if len(head) >= count:
            return head[:count]
        return head + os.pread(self.fd, count - len(head), 0)


def _count(state_elements: int, pos: int, start: int, budget: Budget | None) -> None:
    """Enforce the element caps: absolute, density (elements per byte walked), search budget."""
    if state_elements > MAX_ELEMENTS_PER_WALK:
        raise LimitHit(f"more than {MAX_ELEMENTS_PER_WALK} elements")
    if state_elements > ELEMENT_ALLOWANCE + (pos - start) // MIN_BYTES_PER_ELEMENT:
        raise LimitHit(
            f"{state_elements} elements in {pos - start} bytes: far denser than any recording "
            f"(more than one per {MIN_BYTES_PER_ELEMENT} bytes)"
        )
    if budget is not None:
        budget.left -= 1
        if budget.left < 0:
            raise LimitHit("the search ran out of its element budget")


# --------------------------------------------------------------------------------------------
# WebM / Matroska (EBML)
# --------------------------------------------------------------------------------------------

_ROOT = 0
EBML_ID = 0x1A45DFA3
SEGMENT = 0x18538067
SEEKHEAD = 0x114D9B74
INFO = 0x1549A966
TRACKS = 0x1654AE6B
TRACKENTRY = 0xAE
CLUSTER = 0x1F43B675
CUES = 0x1C53BB6B
BLOCKGROUP = 0xA0
VOID = 0xEC
CRC32 = 0xBF
TIMECODE = 0xE7
SIMPLEBLOCK = 0xA3
BLOCK = 0xA1

# How each element is handled.
_MASTER, _SKIP, _UINT, _FLOAT, _STRING, _BLOCK = range(6)

_GLOBAL = {VOID: _SKIP, CRC32: _SKIP}
# Allowed children per parent (Matroska's schema, reduced to what a walk must know). Parents in
# _GENERIC also take any other element as one to skip: their contents vary between muxers and
# their known size already bounds them.
_CHILDREN: dict[int, dict[int, int]] = {
    _ROOT: {EBML_ID: _MASTER, SEGMENT: _MASTER},
    EBML_ID: {0x4286: _UINT, 0x42F7: _UINT, 0x42F2: _UINT, 0x42F3: _UINT, 0x4282: _STRING,
              0x4287: _UINT, 0x4285: _UINT, 0x4281: _SKIP, **_GLOBAL},
    SEGMENT: {SEEKHEAD: _SKIP, INFO: _MASTER, TRACKS: _MASTER, CLUSTER: _MASTER, CUES: _SKIP,
              0x1254C367: _SKIP, 0x1043A770: _SKIP, 0x1941A469: _SKIP, **_GLOBAL},
    INFO: {0x2AD7B1: _UINT, 0x4489: _FLOAT, **_GLOBAL},
    TRACKS: {TRACKENTRY: _MASTER, **_GLOBAL},
    TRACKENTRY: {0xD7: _UINT, 0x83: _UINT, 0x86: _STRING, **_GLOBAL},
    CLUSTER: {TIMECODE: _UINT, SIMPLEBLOCK: _BLOCK, BLOCKGROUP: _MASTER, 0xA7: _UINT, 0xAB: _UINT,
              0x5854: _SKIP, **_GLOBAL},
    BLOCKGROUP: {BLOCK: _BLOCK, 0x9B: _UINT, 0xFB: _UINT, 0xFA: _UINT, 0xFD: _UINT, 0xA4: _SKIP,
                 0x75A1: _SKIP, 0x75A2: _UINT, 0x8E: _SKIP, 0xC8: _SKIP, 0xA2: _SKIP, **_GLOBAL},
}
# Largest payload of elements that are skipped, where the spec or any real muxer keeps them
# small. Exact for CRC-32. The rest apply to piece walks only (`strict`): there, a random byte
# that happens to read as a Void with a huge size would otherwise swallow whole pieces and let
# any piece "fit" behind it.
_EXACT_SIZE = {CRC32: 4}
_STRICT_MAX_SIZE = {VOID: 1 << 16, 0x5854: 1 << 12, 0xA4: 1 << 16, 0x8E: 1 << 16, 0xC8: 1 << 12,
                    0xA2: 1 << 16, SEEKHEAD: 1 << 16, 0x4281: 1 << 12}
_GENERIC = frozenset({INFO, TRACKENTRY})
_UNKNOWN_SIZE_ALLOWED = frozenset({SEGMENT, CLUSTER})  # as the Matroska spec allows
_NAMES = {CRC32: "CRC-32", EBML_ID: "EBML header", SEGMENT: "Segment", SEEKHEAD: "SeekHead", INFO: "Info",
          TRACKS: "Tracks", TRACKENTRY: "TrackEntry", CLUSTER: "Cluster", CUES: "Cues",
          BLOCKGROUP: "BlockGroup", SIMPLEBLOCK: "SimpleBlock", BLOCK: "Block", TIMECODE: "Timecode",
          VOID: "Void", 0x1254C367: "Tags", 0x1043A770: "Chapters", 0x1941A469: "Attachments"}
# Codecs whose blocks are stored in decode order with presentation timestamps (B-frames).
_REORDERING_CODECS = ("V_MPEG4/", "V_MPEGH/", "V_MPEG1", "V_MPEG2", "V_MS/", "V_REAL/", "V_QUICKTIME")


def _name(element: int) -> str:
    return _NAMES.get(element, f"element 0x{element:X}")


def _first_byte(element: int) -> bytes:
    return element.to_bytes((element.bit_length() + 7) // 8, "big")[:1]


_FIRST_BYTES = {parent: frozenset(_first_byte(child) for child in children)
                for parent, children in _CHILDREN.items()}


@lru_cache(maxsize=1024)
def _bounds(frames: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """The innermost known end at each depth of `frames`: where the open elements must close."""
    bounds: list[int] = []
    for _, frame_end in frames:
        bounds.append(min(frame_end, bounds[-1]) if bounds else frame_end)
    return tuple(bounds)


@dataclass(frozen=True, slots=True)
class EbmlState:
    """Where an EBML walk stands at a piece boundary (hashable: the ordering search caches on it)."""

    offset: int = 0  # stream offset where the next piece starts
    pos: int = 0  # stream offset of the next element header (may lie beyond the next piece)
    pending: bytes = b""  # bytes from `pos` to `offset`: an element header cut by the boundary
    frames: tuple[tuple[int, int], ...] = ()  # open masters (id, end or INF when size unknown)
    ebml_done: bool = False
    segment_seen: bool = False
    doctype: str = ""
    scale: int = 1_000_000  # TimestampScale, ns per tick
    duration: float | None = None  # Info's Duration, in ticks
    tracks: tuple[tuple[int, int, str], ...] = ()  # (number, type, codec)
    tracks_done: bool = False
    draft: tuple[int, int, str] | None = None  # TrackEntry being read
    clusters: bool = False  # a Cluster was seen
    cluster_tc: int | None = None  # the open cluster's Timecode (None: not read yet)
    last_cluster_tc: int | None = None
    track_max: tuple[tuple[int, int], ...] = ()  # (track, latest block timestamp in ticks)


@lru_cache(maxsize=256)
def _allowed_first_bytes(frames: tuple[tuple[int, int], ...]) -> frozenset[bytes]:
    """First bytes an element may start with inside `frames` (every byte in generic parents)."""
    parent = frames[-1][0] if frames else _ROOT
    if parent in _GENERIC:
        return frozenset(bytes([b]) for b in range(0x10, 0x100))
    allowed = set(_FIRST_BYTES[parent])
    depth = len(frames)
    while depth and frames[depth - 1][1] == INF:
        allowed |= _FIRST_BYTES[frames[depth - 2][0] if depth >= 2 else _ROOT]
        depth -= 1
    return frozenset(allowed)


class EbmlWalk:
    """Resumable walk of a WebM/Matroska stream."""

    kind = "ebml"

    def initial(self) -> EbmlState:
        return EbmlState()

    def probe(self, state: EbmlState) -> tuple[int, int, Callable[[bytes], bool]] | None:
        """A cheap necessary condition for the next piece: (offset into it, byte count, the
        values those bytes may take), or None when there is none to offer.

        Here: the first byte of the element header the next piece must have at `pos`.
        """
        if state.pending:
            return None
        frames = state.frames
        bounds = _bounds(frames)
        depth = len(frames)
        while depth and bounds[depth - 1] == state.pos:
            depth -= 1
        return state.pos - state.offset, 1, _allowed_first_bytes(frames[:depth]).__contains__

    def walk(self, state: EbmlState, fd: int, size: int, *, total: int = INF,
             budget: Budget | None = None, whole_file: bool = False) -> tuple[EbmlState, int]:
        """Walk the `size` bytes of `fd` that follow `state`; (new state, elements walked).

        `total` is the length of the whole stream, when known: nothing may end beyond it.
        Raises Invalid where the bytes stop being a valid continuation.
        """
        strict = not whole_file
        src = _Bytes(fd, state.offset, size, state.pending)
        start, end = state.offset, state.offset + size
        pos = state.pos
        frames = list(state.frames)
        bounds = list(_bounds(state.frames))
        st = state
        track_max = dict(state.track_max)
        tracks = {number: (kind, codec) for number, kind, codec in st.tracks}
        cluster_tc = st.cluster_tc
        last_cluster_tc = st.last_cluster_tc
        clusters = st.clusters
        walked = 0
        pending = b""

        def close_frame(element: int) -> None:
            nonlocal st
            if element == EBML_ID:
                if st.doctype not in ("webm", "matroska"):
                    raise Invalid(f"EBML DocType {st.doctype or '(none)'!r} is not WebM or Matroska")
                st = replace(st, ebml_done=True)
            elif element == TRACKENTRY:
                number, kind, codec = st.draft or (0, 0, "")
                if number <= 0 or number in tracks:
                    raise Invalid(f"TrackEntry without a unique TrackNumber ({number})")
                if len(tracks) >= MAX_TRACKS:
                    raise LimitHit(f"more than {MAX_TRACKS} tracks")
                tracks[number] = (kind, codec)
                st = replace(st, draft=None)
            elif element == TRACKS:
                st = replace(st, tracks_done=True)
            elif element == CLUSTER and cluster_tc is None:
                raise Invalid("a Cluster without a Timecode")

        while True:
            while bounds and bounds[-1] == pos:
                bounds.pop()
                close_frame(frames.pop()[0])
            if pos >= end:
                break
            buf = src.read(pos, 32)
            first = buf[0]
            if first >= 0x80:
                id_len = 1
            elif first >= 0x40:
                id_len = 2
            elif first >= 0x20:
                id_len = 3
            elif first >= 0x10:
                id_len = 4
            else:
                raise Invalid(f"no EBML element starts at byte {pos} (0x{first:02X})")
            if len(buf) <= id_len:
                pending = buf  # header cut by the piece boundary: resume in the next piece
                break
            size_first = buf[id_len]
            if not size_first:
                raise Invalid(f"invalid element size at byte {pos}")
            size_len = 9 - size_first.bit_length()
            head_len = id_len + size_len
            if len(buf) < head_len:
                pending = buf
                break
            element = int.from_bytes(buf[:id_len], "big")
            data_size = int.from_bytes(buf[id_len:head_len], "big") & ((1 << (7 * size_len)) - 1)
            unknown = data_size == (1 << (7 * size_len)) - 1
            walked += 1
            _count(walked, pos, start, budget)

            # Which open element does it belong to? An element that is no child of an element
            # of unknown size ends that element (a Cluster ends where the next one begins).
            parent = frames[-1][0] if frames else _ROOT
            kind = _CHILDREN[parent].get(element)
            if kind is None and parent in _GENERIC:
                kind = _SKIP
            if kind is None:
                depth = len(frames)
                while depth and frames[depth - 1][1] == INF:
                    outer = frames[depth - 2][0] if depth >= 2 else _ROOT
                    kind = _CHILDREN[outer].get(element)
                    depth -= 1
                    if kind is not None:
                        break
                if kind is None:
                    where = _name(parent) if frames else "the top level"
                    raise Invalid(f"unexpected {_name(element)} in {where} at byte {pos}")
                while len(frames) > depth:
                    bounds.pop()
                    close_frame(frames.pop()[0])
                parent = frames[-1][0] if frames else _ROOT
            if unknown:
                if element not in _UNKNOWN_SIZE_ALLOWED:
                    raise Invalid(f"{_name(element)} of unknown size at byte {pos}")
                element_end = INF
            else:
                element_end = pos + head_len + data_size
                limit = min(bounds[-1], total) if bounds else total
                if element_end > limit:
                    if limit == total:
                        raise Invalid(f"{_name(element)} at byte {pos} runs past the end of the stream "
                                      f"(it needs {element_end} bytes, there are {total})")
                    raise Invalid(f"{_name(element)} at byte {pos} overruns the element that contains it")

            if parent == _ROOT:
                if element == EBML_ID and (st.ebml_done or frames):
                    raise Invalid(f"a second EBML header at byte {pos}: two recordings in one")
                if element == SEGMENT and (not st.ebml_done or st.segment_seen):
                    raise Invalid(f"{'a second' if st.segment_seen else 'a'} Segment at byte {pos} "
                                  f"{'' if st.segment_seen else 'before the EBML header'}".rstrip())
                if element == EBML_ID and pos != 0:
                    raise Invalid(f"the EBML header is at byte {pos}, not at the start")
            if kind == _MASTER:
                if len(frames) >= MAX_DEPTH:
                    raise LimitHit(f"elements nested deeper than {MAX_DEPTH}")
                frames.append((element, element_end))
                bounds.append(min(element_end, bounds[-1]) if bounds else element_end)
                if element == SEGMENT:
                    st = replace(st, segment_seen=True)
                elif element == CLUSTER:
                    if not st.tracks_done:
                        raise Invalid(f"a Cluster at byte {pos} before the Tracks")
                    clusters = True
                    cluster_tc = None
                elif element == TRACKENTRY:
                    st = replace(st, draft=(0, 0, ""))
                pos += head_len
                continue
            if kind == _SKIP:
                if element in _EXACT_SIZE and data_size != _EXACT_SIZE[element]:
                    raise Invalid(f"a {data_size}-byte {_name(element)} at byte {pos}")
                if strict and data_size > _STRICT_MAX_SIZE.get(element, INF):
                    raise Invalid(f"a {data_size}-byte {_name(element)} at byte {pos}")
                pos = element_end
                continue
            if kind == _BLOCK:
                if cluster_tc is None:
                    raise Invalid(f"a block at byte {pos} before its Cluster's Timecode")
                if data_size < 4:
                    raise Invalid(f"a block of {data_size} bytes at byte {pos}")
                track_first = buf[head_len] if len(buf) > head_len else 0x80
                track_len = 9 - track_first.bit_length() if track_first else 9
                if track_len > 8 or data_size < track_len + 3:
                    raise Invalid(f"a block with an invalid track number at byte {pos}")
                need = head_len + track_len + 3
                if len(buf) < need:
                    pending = buf
                    break
                track = int.from_bytes(buf[head_len:head_len + track_len], "big") & (
                    (1 << (7 * track_len)) - 1)
                if track not in tracks:
                    raise Invalid(f"a block of track {track} at byte {pos}, which Tracks does not declare")
                relative = int.from_bytes(buf[head_len + track_len:need - 1], "big", signed=True)
                flags = buf[need - 1]
                # Reserved flag bits are zero (SimpleBlock: 0x70; Block: 0xF0 and 0x01).
                if flags & (0x70 if element == SIMPLEBLOCK else 0xF1):
                    raise Invalid(f"a block with reserved flags set at byte {pos}")
                stamp = cluster_tc + relative
                previous = track_max.get(track)
                if previous is not None and stamp < previous:
                    kind_, codec = tracks[track]
                    window = 0
                    if kind_ != 2 and codec.startswith(_REORDERING_CODECS):
                        window = int(REORDER_WINDOW_S * 1e9) // st.scale
                    if stamp < previous - window:
                        raise Invalid(
                            f"track {track}'s timestamps go backwards at byte {pos} "
                            f"({previous * st.scale / 1e9:.3f} s, then {stamp * st.scale / 1e9:.3f} s)")
                else:
                    track_max[track] = stamp
                pos = element_end
                continue

            # A value: a few bytes, read whole (cut by the boundary: carry them over).
            if kind != _STRING and data_size > 8:
                raise Invalid(f"{_name(element)} at byte {pos} holds {data_size} bytes, not a number")
            if data_size > MAX_VALUE_BYTES:
                raise LimitHit(f"{_name(element)} at byte {pos} holds {data_size} bytes")
            if len(buf) < head_len + data_size:
                buf = src.read(pos, head_len + data_size)
                if len(buf) < head_len + data_size:
                    pending = buf
                    break
            raw = buf[head_len:head_len + data_size]
            if kind == _UINT:
                if data_size > 8:
                    raise Invalid(f"{_name(element)} at byte {pos} is not a number")
                value = int.from_bytes(raw, "big")
                if element == TIMECODE:
                    if cluster_tc is not None:
                        raise Invalid(f"a second Timecode in one Cluster at byte {pos}")
                    if last_cluster_tc is not None and value < last_cluster_tc:
                        raise Invalid(
                            f"cluster timecodes go backwards at byte {pos} "
                            f"({last_cluster_tc * st.scale / 1e9:.3f} s, then {value * st.scale / 1e9:.3f} s)")
                    cluster_tc = last_cluster_tc = value
                elif element == 0x2AD7B1:
                    if value <= 0:
                        raise Invalid("TimestampScale is zero")
                    st = replace(st, scale=value)
                elif element == 0xD7:
                    st = replace(st, draft=(value, *(st.draft or (0, 0, ""))[1:]))
                elif element == 0x83:
                    draft = st.draft or (0, 0, "")
                    st = replace(st, draft=(draft[0], value, draft[2]))
                elif element == 0x42F7 and value != 1:
                    raise Invalid(f"EBMLReadVersion {value} is not 1")
                elif element == 0x42F2 and value > 4:
                    raise Invalid(f"EBMLMaxIDLength {value} is above 4")
                elif element == 0x42F3 and value > 8:
                    raise Invalid(f"EBMLMaxSizeLength {value} is above 8")
            elif kind == _FLOAT:
                if data_size not in (0, 4, 8):
                    raise Invalid(f"Duration of {data_size} bytes at byte {pos}")
                if data_size:
                    duration = struct.unpack(">f" if data_size == 4 else ">d", raw)[0]
                    if not duration >= 0:  # also refuses NaN
                        raise Invalid(f"Duration {duration} at byte {pos}")
                    st = replace(st, duration=duration)
            else:
                text = raw.rstrip(b"\x00").decode("ascii", "replace")
                if element == 0x4282:
                    st = replace(st, doctype=text)
                elif element == 0x86:
                    draft = st.draft or (0, 0, "")
                    st = replace(st, draft=(draft[0], draft[1], text))
            pos = element_end

        return replace(
            st,
            offset=end,
            pos=end - len(pending) if pending else pos,
            pending=pending,
            frames=tuple(frames),
            tracks=tuple(sorted((number, kind, codec) for number, (kind, codec) in tracks.items())),
            clusters=clusters,
            cluster_tc=cluster_tc,
            last_cluster_tc=last_cluster_tc,
            track_max=tuple(sorted(track_max.items())),
        ), walked

    def finish(self, state: EbmlState) -> EbmlState:
        """Check the stream may end where `state` stands; the state with every element closed."""
        if state.pending:
            raise Invalid(f"the stream ends inside an element header at byte {state.pos}")
        if state.pos > state.offset:
            raise Invalid(f"the stream ends at byte {state.offset}, inside an element that needs "
                          f"{state.pos - state.offset} more bytes")
        frames = list(state.frames)
        for element, element_end in reversed(frames):
            if element_end != INF and element_end != state.offset:
                raise Invalid(f"the stream ends at byte {state.offset}, inside a {_name(element)} "
                              f"that needs {element_end - state.offset} more bytes")
            if element == CLUSTER and state.cluster_tc is None:
                raise Invalid("the last Cluster has no Timecode")
            if element == EBML_ID:
                raise Invalid("the stream ends inside the EBML header")
        if not state.segment_seen:
            raise Invalid("no Segment")
        if not state.clusters:
            raise Invalid("no media: the Segment holds no Cluster")
        return replace(state, frames=())

    def seconds(self, state: EbmlState) -> tuple[float | None, float | None]:
        """(latest block timestamp, declared duration) in seconds."""
        last = max((stamp for _, stamp in state.track_max), default=None)
        to_s = state.scale / 1e9
        return (None if last is None else last * to_s,
                None if state.duration is None else state.duration * to_s)


# --------------------------------------------------------------------------------------------
# MP4 (ISO BMFF), plain and fragmented
# --------------------------------------------------------------------------------------------

# Top-level boxes an MP4 recording is made of. A piece walk (ordering) accepts only these: a
# random 4-byte match is then practically impossible. A whole file may carry any other box.
_TOP_LEVEL = frozenset({b"ftyp", b"moov", b"moof", b"mdat", b"mfra", b"free", b"skip", b"wide",
                        b"sidx", b"ssix", b"styp", b"emsg", b"prft", b"uuid", b"meta", b"pdin",
                        b"udta"})


def _printable(kind: bytes) -> bool:
    return all(0x20 <= c <= 0x7E for c in kind)


@dataclass(frozen=True, slots=True)
class Mp4Track:
    """A track as moov declares it."""

    track_id: int
    timescale: int
    handler: str
    nal_length: int  # AVC/HEVC: bytes of each NAL unit's length prefix; 0: samples not checked
    nal_header: int  # 1 (AVC) or 2 (HEVC) header bytes checked after the length
    default_duration: int = 0  # from trex
    default_size: int = 0
    stts_ticks: int = 0  # plain MP4: total of the sample table's durations


@dataclass(frozen=True, slots=True)
class Mp4State:
    """Where an MP4 walk stands at a piece boundary (hashable)."""

    offset: int = 0
    pos: int = 0
    pending: bytes = b""
    ftyp: bool = False
    moov: bool = False
    fragmented: bool = False
    movie_timescale: int = 0
    movie_duration: int = 0  # mvhd (or mehd when fragmented), movie timescale
    tracks: tuple[Mp4Track, ...] = ()
    mdat: bool = False  # a plain MP4's media data seen
    fragments: int = 0
    last_sequence: int | None = None
    # Samples of the last moof, to be found in the next mdat: (start, end, nal_length, header).
    plan: tuple[tuple[int, int, int, int], ...] = ()
    # Inside an mdat whose samples are walked: its end and the index of the sample at `pos`.
    mdat_end: int = 0
    sample: int = -1
    track_times: tuple[tuple[int, int, int], ...] = ()  # (track, last tfdt, end of its fragment)


def _u32(data: bytes, at: int) -> int:
    if at + 4 > len(data):
        raise Invalid("a box field runs past the box")
    return int.from_bytes(data[at:at + 4], "big")


def _u64(data: bytes, at: int) -> int:
    if at + 8 > len(data):
        raise Invalid("a box field runs past the box")
    return int.from_bytes(data[at:at + 8], "big")


def _children(data: bytes, start: int, end: int, where: str):
    """Boxes inside `data[start:end]`: (type, payload start, box end); raises if they do not tile it."""
    at = start
    count = 0
    while at < end:
        if at + 8 > end:
            raise Invalid(f"a truncated box inside {where}")
        size = int.from_bytes(data[at:at + 4], "big")
        kind = data[at + 4:at + 8]
        head = 8
        if size == 1:
            if at + 16 > end:
                raise Invalid(f"a truncated box inside {where}")
            size = int.from_bytes(data[at + 8:at + 16], "big")
            head = 16
        elif size == 0:
            size = end - at
        if size < head or at + size > end or not _printable(kind):
            raise Invalid(f"a malformed box inside {where}")
        count += 1
        if count > 100_000:
            raise LimitHit(f"too many boxes inside {where}")
        yield kind, at + head, at + size
        at += size


def _sample_entry_nal(data: bytes, start: int, end: int) -> tuple[int, int]:
    """(NAL length size, NAL header bytes) from an stsd payload; (0, 0) for other codecs."""
    if end - start < 8:
        return 0, 0
    for kind, body, box_end in _children(data, start + 8, end, "stsd"):
        if kind in (b"avc1", b"avc3", b"hvc1", b"hev1"):
            # A VisualSampleEntry's fixed fields take 78 bytes before its child boxes.
            for child, child_body, child_end in _children(data, body + 78, box_end, kind.decode()):
                if child == b"avcC" and child_end - child_body >= 5:
                    return (data[child_body + 4] & 3) + 1, 1
                if child == b"hvcC" and child_end - child_body >= 22:
                    return (data[child_body + 21] & 3) + 1, 2
        return 0, 0  # only the first sample entry describes how samples are coded
    return 0, 0


class Mp4Walk:
    """Resumable walk of an MP4 stream: top-level boxes; moov and moof read whole (they are
    small); inside an mdat that follows a moof, every sample's NAL length prefixes (H.264/HEVC)."""

    kind = "mp4"

    def initial(self) -> Mp4State:
        return Mp4State()

    def probe(self, state: Mp4State) -> tuple[int, int, Callable[[bytes], bool]] | None:
        """A cheap necessary condition for the next piece (see EbmlWalk.probe): the type of
        the top-level box it must have at `pos`, or inside an mdat the length prefix and
        header of the NAL unit due next."""
        if state.pending:
            return None
        pos = state.pos
        if state.sample >= 0:
            plan = state.plan
            index = state.sample
            while True:
                if index >= len(plan):
                    pos = state.mdat_end
                    break
                s_start, s_end, nal_length, nal_header = plan[index]
                pos = max(pos, s_start)
                if pos >= s_end or not nal_length:
                    pos = s_end
                    index += 1
                    continue
                room = s_end - pos - nal_length

                def fits(head: bytes, n: int = nal_length, h: int = nal_header, room: int = room) -> bool:
                    unit = int.from_bytes(head[:n], "big")
                    return h <= unit <= room and not head[n] & 0x80 and (h != 1 or bool(head[n] & 0x1F))
                return pos - state.offset, nal_length + nal_header, fits
        return pos - state.offset + 4, 4, _TOP_LEVEL.__contains__

    # ---- moov ---------------------------------------------------------------------------

    def _moov(self, st: Mp4State, read: Callable[[int, int], bytes], start: int, end: int,
              file_size: int | None) -> Mp4State:
        """Tracks, timescales and durations from moov (`read(offset, n)` gives its bytes).

        With `file_size` (a whole-file walk), the sample tables are streamed too: their total
        duration is kept and every chunk offset must lie inside the file.
        """
        whole_file = file_size is not None
        movie_timescale = movie_duration = 0
        fragmented = False
        tracks: list[Mp4Track] = []
        trex: dict[int, tuple[int, int]] = {}
        mehd: int | None = None

        def boxes(at: int, stop: int, where: str):
            count = 0
            while at < stop:
                head = read(at, 16)
                if len(head) < 8:
                    raise Invalid(f"a truncated box inside {where}")
                size = int.from_bytes(head[:4], "big")
                kind = head[4:8]
                head_len = 8
                if size == 1:
                    if len(head) < 16:
                        raise Invalid(f"a truncated box inside {where}")
                    size, head_len = int.from_bytes(head[8:16], "big"), 16
                elif size == 0:
                    size = stop - at
                if size < head_len or at + size > stop or not _printable(kind):
                    raise Invalid(f"a malformed box inside {where} at byte {at}")
                count += 1
                if count > 10_000:
                    raise LimitHit(f"too many boxes inside {where}")
                yield kind, at + head_len, at + size
                at += size

        def small(at: int, stop: int, cap: int = 1 << 16) -> bytes:
            if stop - at > cap:
                raise LimitHit(f"a {stop - at}-byte header box")
            data = read(at, stop - at)
            if len(data) != stop - at:
                raise Invalid("a truncated box inside moov")
            return data

        def table_sum(at: int, stop: int, kind: bytes) -> tuple[int, int]:
            """Plain MP4 only: stts total ticks, or the largest stco/co64 chunk offset."""
            head = small(at, min(stop, at + 8))
            count = _u32(head, 4)
            width = {b"stts": 8, b"stco": 4, b"co64": 8}[kind]
            if count > MAX_TABLE_ENTRIES or at + 8 + count * width > stop:
                raise Invalid(f"{kind.decode()} declares {count} entries it does not hold")
            total = largest = 0
            cursor = at + 8
            left = count
            while left:
                batch = min(left, 8192)
                data = small(cursor, cursor + batch * width)
                if kind == b"stts":
                    for i in range(0, len(data), 8):
                        total += int.from_bytes(data[i:i + 4], "big") * int.from_bytes(data[i + 4:i + 8], "big")
                else:
                    for i in range(0, len(data), width):
                        largest = max(largest, int.from_bytes(data[i:i + width], "big"))
                cursor += batch * width
                left -= batch
            return total, largest

        for kind, body, box_end in boxes(start, end, "moov"):
            if kind == b"mvhd":
                data = small(body, box_end)
                if data[:1] == b"\x01":
                    movie_timescale, movie_duration = _u32(data, 20), _u64(data, 24)
                else:
                    movie_timescale, movie_duration = _u32(data, 12), _u32(data, 16)
            elif kind == b"mvex":
                fragmented = True
                for child, child_body, child_end in boxes(body, box_end, "mvex"):
                    data = small(child_body, child_end) if child in (b"mehd", b"trex") else b""
                    if child == b"mehd":
                        mehd = _u64(data, 4) if data[:1] == b"\x01" else _u32(data, 4)
                    elif child == b"trex":
                        trex[_u32(data, 4)] = (_u32(data, 12), _u32(data, 16))
            elif kind == b"trak":
                track_id = timescale = 0
                handler = ""
                nal = (0, 0)
                ticks = 0
                for child, child_body, child_end in boxes(body, box_end, "trak"):
                    if child == b"tkhd":
                        data = small(child_body, child_end)
                        track_id = _u32(data, 20 if data[:1] == b"\x01" else 12)
                    elif child == b"mdia":
                        for part, part_body, part_end in boxes(child_body, child_end, "mdia"):
                            if part == b"mdhd":
                                data = small(part_body, part_end)
                                timescale = _u32(data, 20 if data[:1] == b"\x01" else 12)
                            elif part == b"hdlr":
                                handler = small(part_body, part_end)[8:12].decode("latin-1")
                            elif part == b"minf":
                                for box, box_body, box_stop in boxes(part_body, part_end, "minf"):
                                    if box != b"stbl":
                                        continue
                                    for table, table_body, table_end in boxes(box_body, box_stop, "stbl"):
                                        if table == b"stsd":
                                            data = small(table_body, table_end)
                                            nal = _sample_entry_nal(data, 0, len(data))
                                        elif whole_file and table == b"stts":
                                            ticks = table_sum(table_body, table_end, table)[0]
                                        elif whole_file and table in (b"stco", b"co64"):
                                            largest = table_sum(table_body, table_end, table)[1]
                                            if largest >= file_size:
                                                raise Invalid(
                                                    f"track {track_id}'s sample table points at byte "
                                                    f"{largest}, past the end of the file "
                                                    f"({file_size} bytes)")
                if track_id <= 0 or timescale <= 0:
                    raise Invalid("a trak without a track ID or timescale")
                if len(tracks) >= MAX_TRACKS:
                    raise LimitHit(f"more than {MAX_TRACKS} tracks")
                tracks.append(Mp4Track(track_id, timescale, handler, nal[0], nal[1], stts_ticks=ticks))
        if movie_timescale <= 0:
            raise Invalid("moov has no mvhd")
        if not tracks:
            raise Invalid("moov declares no track")
        tracks = [replace(t, default_duration=trex.get(t.track_id, (0, 0))[0],
                          default_size=trex.get(t.track_id, (0, 0))[1]) for t in tracks]
        if fragmented and mehd:
            movie_duration = mehd
        return replace(st, moov=True, fragmented=fragmented, movie_timescale=movie_timescale,
                       movie_duration=movie_duration, tracks=tuple(sorted(tracks, key=lambda t: t.track_id)))

    # ---- moof ---------------------------------------------------------------------------

    def _moof(self, st: Mp4State, data: bytes, moof_start: int) -> Mp4State:
        """Check one fragment's index and plan where its samples lie."""
        tracks = {t.track_id: t for t in st.tracks}
        times = {track: (tfdt, end) for track, tfdt, end in st.track_times}
        sequence: int | None = None
        plan: list[tuple[int, int, int, int]] = []
        for kind, body, box_end in _children(data, 0, len(data), "moof"):
            if kind == b"mfhd":
                sequence = _u32(data, body + 4)
                if st.last_sequence is not None and sequence <= st.last_sequence:
                    raise Invalid(f"fragment sequence numbers go backwards at byte {moof_start} "
                                  f"({st.last_sequence}, then {sequence})")
            elif kind == b"traf":
                if sequence is None:
                    raise Invalid(f"a moof without mfhd at byte {moof_start}")
                track = None
                tfhd_flags = 0
                base: int | None = None
                default_duration = default_size = 0
                decode_time: int | None = None
                cursor: int | None = None
                ticks = samples = 0
                for child, child_body, child_end in _children(data, body, box_end, "traf"):
                    if child == b"tfhd":
                        tfhd_flags = _u32(data, child_body) & 0xFFFFFF
                        track = tracks.get(_u32(data, child_body + 4))
                        if track is None:
                            raise Invalid(f"a fragment of a track moov does not declare (byte {moof_start})")
                        at = child_body + 8
                        default_duration, default_size = track.default_duration, track.default_size
                        if tfhd_flags & 0x1:
                            base = _u64(data, at)
                            at += 8
                        if tfhd_flags & 0x2:
                            at += 4
                        if tfhd_flags & 0x8:
                            default_duration = _u32(data, at)
                            at += 4
                        if tfhd_flags & 0x10:
                            default_size = _u32(data, at)
                        if base is None:
                            # default-base-is-moof, or the first traf: data offsets count from
                            # the moof; a later traf without either continues the previous data.
                            base = moof_start if (tfhd_flags & 0x20000 or not plan) else plan[-1][1]
                    elif child == b"tfdt":
                        if track is None:
                            raise Invalid(f"tfdt before tfhd at byte {moof_start}")
                        wide = data[child_body] == 1  # version 1: 64-bit decode time
                        decode_time = _u64(data, child_body + 4) if wide else _u32(data, child_body + 4)
                    elif child == b"trun":
                        if track is None or base is None:
                            raise Invalid(f"trun before tfhd at byte {moof_start}")
                        flags = _u32(data, child_body) & 0xFFFFFF
                        count = _u32(data, child_body + 4)
                        at = child_body + 8
                        if flags & 0x1:
                            cursor = base + int.from_bytes(data[at:at + 4], "big", signed=True)
                            at += 4
                        elif cursor is None:
                            cursor = base
                        if flags & 0x4:
                            at += 4
                        fields = [bit for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit]
                        width = 4 * len(fields)
                        if at + count * width > child_end:
                            raise Invalid(f"trun declares {count} samples it does not hold (byte {moof_start})")
                        checked = track.nal_length if count <= MAX_SAMPLES_CHECKED else 0
                        samples += count
                        for _ in range(count):
                            duration, size = default_duration, default_size
                            for bit in fields:
                                value = int.from_bytes(data[at:at + 4], "big")
                                at += 4
                                if bit == 0x100:
                                    duration = value
                                elif bit == 0x200:
                                    size = value
                            ticks += duration
                            if len(plan) < MAX_SAMPLES_CHECKED and size:
                                plan.append((cursor, cursor + size, checked, track.nal_header))
                            cursor += size
                # A traf without samples has no time (Chromium ends with an empty audio traf
                # whose tfdt is 0): only fragments that carry samples are held to the clock.
                if track is not None and samples:
                    previous = times.get(track.track_id)
                    if decode_time is None:
                        decode_time = previous[1] if previous else 0
                    if previous is not None and decode_time < previous[0]:
                        raise Invalid(
                            f"track {track.track_id}'s fragment times go backwards at byte {moof_start} "
                            f"({previous[0] / track.timescale:.3f} s, then {decode_time / track.timescale:.3f} s)")
                    times[track.track_id] = (decode_time, decode_time + ticks)
        if sequence is None:
            raise Invalid(f"a moof without mfhd at byte {moof_start}")
        plan.sort()
        for (_, a_end, _, _), (b_start, _, _, _) in itertools.pairwise(plan):
            if b_start < a_end:
                raise Invalid(f"samples of the fragment at byte {moof_start} overlap")
        return replace(st, last_sequence=sequence, fragments=st.fragments + 1, plan=tuple(plan),
                       track_times=tuple(sorted((k, a, b) for k, (a, b) in times.items())))

    # ---- the walk -----------------------------------------------------------------------

    def walk(self, state: Mp4State, fd: int, size: int, *, total: int = INF,
             budget: Budget | None = None, whole_file: bool = False) -> tuple[Mp4State, int]:
        """Walk the `size` bytes of `fd` after `state`; (new state, boxes and samples walked).

        In `whole_file` mode `fd` is the entire file (moov's tables are then streamed and
        checked against the file size); otherwise it is one piece of a stream.
        """
        src = _Bytes(fd, state.offset, size, state.pending)
        start, end = state.offset, state.offset + size
        st = state
        pos = st.pos
        walked = 0
        pending = b""
        sample = st.sample  # kept in locals while samples are walked: they change at every one
        plan = st.plan
        while pos < end:
            if sample >= 0:
                # Inside an mdat whose samples the moof described: walk them.
                if sample >= len(plan):
                    pos = st.mdat_end
                    sample, plan = -1, ()
                    continue
                s_start, s_end, nal_length, nal_header = plan[sample]
                if pos < s_start:
                    pos = s_start
                    continue
                if pos == s_end or not nal_length:
                    pos = s_end
                    sample += 1
                    continue
                head = src.read(pos, nal_length + nal_header)
                if len(head) < nal_length + nal_header:
                    pending = head
                    break
                walked += 1
                _count(walked, pos, start, budget)
                unit = int.from_bytes(head[:nal_length], "big")
                if unit < nal_header or pos + nal_length + unit > s_end or head[nal_length] & 0x80:
                    raise Invalid(f"sample data at byte {pos} is not the H.264/HEVC frame its fragment describes")
                if nal_header == 1 and not head[nal_length] & 0x1F:
                    raise Invalid(f"sample data at byte {pos} is not the H.264 frame its fragment describes")
                pos += nal_length + unit
                continue

            head = src.read(pos, 16)
            if len(head) < 8:
                pending = head
                break
            box_size = int.from_bytes(head[:4], "big")
            kind = head[4:8]
            head_len = 8
            if box_size == 1:
                if len(head) < 16:
                    pending = head
                    break
                box_size, head_len = int.from_bytes(head[8:16], "big"), 16
            walked += 1
            _count(walked, pos, start, budget)
            if not _printable(kind) or (not whole_file and kind not in _TOP_LEVEL):
                raise Invalid(f"no MP4 box starts at byte {pos}")
            if box_size == 0:
                box_end = total if total != INF else INF  # "to the end of the file"
            else:
                if box_size < head_len:
                    raise Invalid(f"a {box_size}-byte box at byte {pos}")
                box_end = pos + box_size
                if box_end > total:
                    raise Invalid(f"the {kind.decode('latin-1')} box at byte {pos} runs past the end of the "
                                  f"stream (it needs {box_end} bytes, there are {total})")
            if not st.ftyp:
                if kind != b"ftyp" or pos != 0:
                    raise Invalid(f"the stream does not start with ftyp (found {kind!r} at byte {pos})")
                st = replace(st, ftyp=True)
            if kind == b"moov":
                if st.moov:
                    raise Invalid(f"a second moov at byte {pos}: two recordings in one")
                if whole_file:
                    st = self._moov(st, lambda at, n: os.pread(fd, n, at - start), pos + head_len,
                                    box_end, total)
                else:
                    if box_end - pos > MAX_MOOV_BYTES:
                        raise LimitHit(f"a {box_end - pos}-byte moov (more than {MAX_MOOV_BYTES})")
                    whole = src.read(pos, box_end - pos)
                    if len(whole) < box_end - pos:
                        pending = whole
                        break
                    st = self._moov(st, lambda at, n, whole=whole, base=pos: whole[at - base:at - base + n],
                                    pos + head_len, box_end, None)
            elif kind == b"moof":
                if not st.moov or not st.fragmented:
                    raise Invalid(f"a moof at byte {pos} without a moov that announces fragments")
                cap = MAX_MOOF_BYTES if whole_file else MAX_MOOF_BYTES_IN_PIECES
                if box_end - pos > cap:
                    raise LimitHit(f"a {box_end - pos}-byte moof (more than {cap})")
                whole = src.read(pos, box_end - pos)
                if len(whole) < box_end - pos:
                    pending = whole
                    break
                # Data offsets count from the moof's first byte: `_moof` gets that offset.
                st = self._moof(st, whole[head_len:], pos)
                plan = st.plan
            elif kind == b"mdat":
                body = pos + head_len
                if plan and plan[0][0] >= body and plan[-1][1] <= box_end:
                    st = replace(st, mdat_end=box_end, mdat=True)
                    sample = 0
                    pos = body
                    continue
                if whole_file and plan and plan[-1][1] > total:
                    raise Invalid(f"a fragment's samples lie past the end of the file (byte {plan[-1][1]})")
                st = replace(st, mdat=True)
                plan = ()
            pos = box_end
        if pending:
            pos = end - len(pending)
        return replace(st, offset=end, pos=pos, pending=pending, sample=sample, plan=plan), walked

    def finish(self, state: Mp4State) -> Mp4State:
        """Check the stream may end where `state` stands."""
        if state.pending:
            raise Invalid(f"the stream ends inside a box header at byte {state.pos}")
        if state.pos != state.offset and state.pos != INF:
            raise Invalid(f"the stream ends at byte {state.offset}, inside a box that needs "
                          f"{state.pos - state.offset} more bytes")
        if state.sample >= 0 and state.mdat_end not in (state.offset, INF):
            raise Invalid(f"the stream ends inside an mdat at byte {state.offset}")
        if not state.moov:
            raise Invalid("no moov: the file has no index of its media")
        if not state.mdat:
            raise Invalid("no mdat: the file holds no media")
        return state

    def seconds(self, state: Mp4State) -> tuple[float | None, float | None]:
        """(where the media ends, declared duration) in seconds."""
        scales = {t.track_id: t.timescale for t in state.tracks}
        if state.fragmented:
            ends = [end / scales[track] for track, _, end in state.track_times if scales.get(track)]
        else:
            ends = [t.stts_ticks / t.timescale for t in state.tracks if t.stts_ticks]
        last = max(ends, default=None)
        declared = None
        if state.movie_duration and state.movie_timescale and state.movie_duration < (1 << 63) - 1:
            declared = state.movie_duration / state.movie_timescale
            if declared >= 0xFFFFFFFF / state.movie_timescale:
                declared = None  # all ones: "unknown"
        return last, declared


def walker_for(kind: str) -> EbmlWalk | Mp4Walk:
    """The walker of a stream whose first bytes `sniff` called `kind`."""
    return EbmlWalk() if kind == "ebml" else Mp4Walk()


# --------------------------------------------------------------------------------------------
# verify_whole
# --------------------------------------------------------------------------------------------


def _other_container(head: bytes) -> str:
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return "unknown"


def verify_whole(path: Path) -> WholeReport:
    """Prove `path` is a whole WebM/Matroska or MP4 file, or raise CorruptMedia saying why.

    Whole means: the container parses to exactly the end of the file, no cluster timecode,
    block timestamp (per track) or fragment decode time goes backwards, and a declared duration
    agrees with where the media ends (within DURATION_TOLERANCE_S plus a fraction). Other
    formats (AVI, ...) are not walked: the report says so and nothing is raised.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(16)
        kind = sniff(head)
        if kind is None:
            return WholeReport(container=_other_container(head), checked=False, elements=0,
                               last_timestamp=None, duration=None, note="not checked: neither WebM/Matroska nor MP4")
        walker = walker_for(kind)
        try:
            state, walked = walker.walk(walker.initial(), fh.fileno(), size, total=size, whole_file=True)
            state = walker.finish(state)
        except LimitHit as exc:
            raise CorruptMedia(f"The recording cannot be checked: {exc}") from None
        except Invalid as exc:
            raise CorruptMedia(f"The recording is not whole: {exc}") from None
    last, declared = walker.seconds(state)
    if declared is not None and last is not None:
        tolerance = DURATION_TOLERANCE_S + DURATION_TOLERANCE_FRACTION * declared
        if abs(declared - last) > tolerance:
            raise CorruptMedia(
                f"The recording is not whole: it declares {declared:.2f} s but its media "
                f"{'ends' if last < declared else 'runs on'} at {last:.2f} s")
    if isinstance(state, EbmlState):
        container = "webm" if state.doctype == "webm" else "matroska"
        fragmented = False
    else:
        container, fragmented = "mp4", state.fragmented
    return WholeReport(container=container, checked=True, elements=walked, last_timestamp=last,
                       duration=declared, fragmented=fragmented)
