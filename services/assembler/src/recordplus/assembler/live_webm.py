"""Incremental reading of a WebM stream while it is still being uploaded. Plain module: no
Django, no Dramatiq.

MediaRecorder's pieces after the first are not self-contained: only piece 0 holds the EBML
header, the Segment header and Tracks (the initialization segment). `WebmReader` walks the
stream from a persisted `WebmCursor` (an absolute byte offset at an element boundary plus the
little context a boundary needs: the timescale, the audio track, the current Cluster's
timecode), takes the audio track's blocks out of every complete element, and stops at the first
element that is cut by the end of the bytes received so far (it is read again, whole, next
time). Video blocks are skipped by their size without being read. Clusters of unknown size
(Chromium writes those, and an unknown-size Segment) end where the next Segment-level element
starts.

`audio_webm` writes the opposite: a tiny audio-only WebM (the original audio TrackEntry, one
Cluster per 30 s) that ffmpeg decodes, so a decode step never touches video and never starts
from the beginning of the recording.

Everything is bounded: an element header must make sense, a kept element (Info, Tracks, an
audio block) has a size limit, and a walk visits a limited number of elements.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

EBML_HEADER = 0x1A45DFA3
SEGMENT = 0x18538067
SEEKHEAD = 0x114D9B74
INFO = 0x1549A966
TRACKS = 0x1654AE6B
CLUSTER = 0x1F43B675
CUES = 0x1C53BB6B
TAGS = 0x1254C367
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
VOID = 0xEC
CRC32 = 0xBF
TIMECODE_SCALE = 0x2AD7B1
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_TYPE = 0x83
CODEC_ID = 0x86
CODEC_DELAY = 0x56AA
CODEC_PRIVATE = 0x63A2
TIMECODE = 0xE7
SIMPLEBLOCK = 0xA3
BLOCKGROUP = 0xA0
BLOCK = 0xA1

SEGMENT_LEVEL = frozenset({SEEKHEAD, INFO, TRACKS, CLUSTER, CUES, TAGS, CHAPTERS, ATTACHMENTS})
TRACK_TYPE_AUDIO = 2
UNKNOWN = -1  # an element of unknown size (runs until its parent's next sibling)

MAX_HEADER_ELEMENT_BYTES = 1 << 20  # EBML header, Info, Tracks: a few hundred bytes in practice
MAX_AUDIO_BLOCK_BYTES = 1 << 16  # an Opus packet is at most 1275 bytes per frame, 120 ms
MAX_ELEMENTS_PER_WALK = 2_000_000
# One synthetic Cluster spans at most this many ticks (block timecodes are signed 16-bit).
MAX_CLUSTER_SPAN_TICKS = 30_000
# Opus only: every browser's MediaRecorder writes Opus into WebM. Vorbis packets (of two block
# sizes, each overlapping the previous one) do not come out of a few priming packets whole,
# so a Vorbis recording stitched from decode steps would not be its audio: it is transcribed
# whole after assembly instead.
SUPPORTED_CODECS = ("A_OPUS",)


class LiveStreamError(Exception):
    """The stream cannot be followed live (not WebM, no audio track, laced blocks, an element
    that makes no sense): the recording is transcribed whole after assembly instead."""


@dataclass
class AudioBlock:
    """One audio packet: its time in the recording's ticks and its bytes."""

    ticks: int
    data: bytes

    def to_json(self) -> list[Any]:
        return [self.ticks, base64.b64encode(self.data).decode("ascii")]

    @classmethod
    def from_json(cls, value: list[Any]) -> AudioBlock:
        return cls(int(value[0]), base64.b64decode(value[1]))


@dataclass
class WebmCursor:
    """Where the walk stands, persisted between decode steps (JSON-friendly)."""

    offset: int = 0  # absolute byte offset of the next element to read
    in_segment: bool = False
    segment_end: int = UNKNOWN  # absolute end of the Segment (UNKNOWN: runs to the end)
    cluster_end: int | None = None  # None: not inside a Cluster; UNKNOWN: unknown size
    cluster_ticks: int = 0  # the current Cluster's Timecode
    timecode_scale: int = 1_000_000  # nanoseconds per tick
    audio_track: int | None = None
    track_entry: str = ""  # base64 of the audio TrackEntry element, whole (header included)
    codec: str = ""
    # Block times include the decoder's delay (Opus pre-skip): sound plays this much earlier.
    codec_delay_ns: int = 0
    seen_tracks: bool = False
    done: bool = False  # the Segment ended (nothing after it is audio of this recording)
    # Which reader follows the stream ("webm" or "mp4", told at its first bytes). The fields
    # below are the fragmented-MP4 reader's (live_mp4.py); a WebM cursor leaves them as they are.
    container: str = "webm"
    mp4_track_id: int | None = None  # the audio track's track_ID
    mp4_timescale: int = 0  # its units per second
    mp4_default_duration: int = 0  # trex defaults (a tfhd may override them per fragment)
    mp4_default_size: int = 0
    mp4_next_time: int = 0  # where the next fragment starts when it has no tfdt (timescale units)
    mp4_mdat_end: int | None = None  # inside an mdat: its absolute end
    # The current fragment's audio samples not taken yet: [absolute offset, size, ticks].
    mp4_pending: list[list[int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> WebmCursor:
        return cls(**(value or {}))

    @property
    def ready(self) -> bool:
        """Tracks were read: blocks can be decoded."""
        return self.audio_track is not None and bool(self.track_entry)

    def seconds(self, ticks: int) -> float:
        return ticks * self.timecode_scale / 1e9


@dataclass
class WalkResult:
    blocks: list[AudioBlock] = field(default_factory=list)
    consumed: int = 0  # bytes the cursor moved forward


def read_id(data: bytes | memoryview, pos: int) -> tuple[int, int] | None:
    """(element id, its length in bytes) at `pos`; None when `data` ends inside it."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first == 0:
        raise LiveStreamError(f"not an EBML element id at byte {pos}")
    length = 1
    mask = 0x80
    while not first & mask:
        length += 1
        mask >>= 1
    if length > 4:
        raise LiveStreamError(f"an EBML element id of {length} bytes at byte {pos}")
    if pos + length > len(data):
        return None
    return int.from_bytes(bytes(data[pos : pos + length]), "big"), length


def read_size(data: bytes | memoryview, pos: int) -> tuple[int, int] | None:
    """(size or UNKNOWN, its length in bytes) at `pos`; None when `data` ends inside it."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first == 0:
        raise LiveStreamError(f"an EBML size longer than 8 bytes at byte {pos}")
    length = 1
    mask = 0x80
    while not first & mask:
        length += 1
        mask >>= 1
    if pos + length > len(data):
        return None
    value = first & (mask - 1)
    for byte in bytes(data[pos + 1 : pos + length]):
        value = (value << 8) | byte
    if value == (1 << (7 * length)) - 1:
        return UNKNOWN, length
    return value, length


def _uint(payload: bytes) -> int:
    return int.from_bytes(payload, "big") if payload else 0


def _children(payload: bytes) -> list[tuple[int, bytes, bytes]]:
    """(id, whole element bytes, payload) of each child of a complete master element."""
    out = []
    pos = 0
    while pos < len(payload):
        got_id = read_id(payload, pos)
        got_size = read_size(payload, pos + got_id[1]) if got_id else None
        if got_id is None or got_size is None or got_size[0] == UNKNOWN:
            raise LiveStreamError("a truncated element inside a header element")
        start = pos + got_id[1] + got_size[1]
        end = start + got_size[0]
        if end > len(payload):
            raise LiveStreamError("a child element runs past its parent")
        out.append((got_id[0], payload[pos:end], payload[start:end]))
        pos = end
    return out


def _audio_entry(tracks_payload: bytes) -> tuple[int, bytes, str, int] | None:
    """(track number, the TrackEntry element, codec id, codec delay in ns) of the first audio track."""
    for element_id, whole, payload in _children(tracks_payload):
        if element_id != TRACK_ENTRY:
            continue
        values = {child_id: child for child_id, _, child in _children(payload)}
        if _uint(values.get(TRACK_TYPE, b"")) == TRACK_TYPE_AUDIO:
            codec = values.get(CODEC_ID, b"").decode("ascii", "replace")
            delay = _uint(values.get(CODEC_DELAY, b""))
            head = values.get(CODEC_PRIVATE, b"")
            if codec == "A_OPUS" and len(head) >= 12 and head[:8] == b"OpusHead":
                # What an Opus decoder really drops at its start (48 kHz samples), which the
                # whole-file decode drops too; CodecDelay may say otherwise.
                delay = int.from_bytes(head[10:12], "little") * 1_000_000_000 // 48_000
            return _uint(values.get(TRACK_NUMBER, b"")), whole, codec, delay
    return None


def _block(payload: bytes, cursor: WebmCursor) -> AudioBlock | None:
    """The audio packet of a SimpleBlock/Block payload, or None when it is another track's."""
    got = read_size(payload, 0)  # the track number is a size-style vint
    if got is None or got[0] == UNKNOWN or len(payload) < got[1] + 3:
        raise LiveStreamError("a truncated block header")
    track, length = got
    if track != cursor.audio_track:
        return None
    (relative,) = struct.unpack(">h", payload[length : length + 2])
    flags = payload[length + 2]
    if flags & 0x06:
        raise LiveStreamError("laced audio blocks are not followed live")
    return AudioBlock(cursor.cluster_ticks + relative, payload[length + 3 :])


class WebmReader:
    """Walks `data` (the stream's bytes from `cursor.offset` on) and moves `cursor` forward."""

    def __init__(self, cursor: WebmCursor) -> None:
        self.cursor = cursor

    def walk(self, data: bytes | memoryview, *, at_end: bool = False) -> WalkResult:
        """Read every complete element of `data` (which starts at `cursor.offset`). With
        `at_end` (no more bytes will come), an unknown-size Cluster/Segment ends with the data."""
        cursor = self.cursor
        if cursor.offset == 0 and len(data) >= 4 and bytes(data[:4]) != EBML_HEADER.to_bytes(4, "big"):
            raise LiveStreamError("not a WebM stream (it does not start with an EBML header)")
        result = WalkResult()
        start_offset = cursor.offset
        pos = 0
        visited = 0
        while not cursor.done:
            visited += 1
            if visited > MAX_ELEMENTS_PER_WALK:
                break
            if cursor.in_segment and cursor.segment_end != UNKNOWN and cursor.offset >= cursor.segment_end:
                cursor.done = True
                break
            if cursor.cluster_end not in (None, UNKNOWN) and cursor.offset >= cursor.cluster_end:
                cursor.cluster_end = None
            got_id = read_id(data, pos)
            got_size = read_size(data, pos + got_id[1]) if got_id else None
            if got_id is None or got_size is None:
                break  # the element header is cut: wait for more bytes
            element_id, id_length = got_id
            size, size_length = got_size
            header = id_length + size_length
            if cursor.cluster_end == UNKNOWN and element_id in SEGMENT_LEVEL:
                cursor.cluster_end = None  # an unknown-size Cluster ends at the next one
            if not cursor.in_segment:
                if element_id == EBML_HEADER:
                    if size == UNKNOWN or size > MAX_HEADER_ELEMENT_BYTES:
                        raise LiveStreamError("an EBML header of unknown or absurd size")
                    if pos + header + size > len(data):
                        break
                    pos += header + size
                    cursor.offset += header + size
                    continue
                if element_id != SEGMENT:
                    raise LiveStreamError(f"not a WebM stream (element {element_id:#x} at the top)")
                cursor.in_segment = True
                cursor.segment_end = UNKNOWN if size == UNKNOWN else cursor.offset + header + size
                pos += header
                cursor.offset += header
                continue
            if cursor.cluster_end is not None:  # inside a Cluster
                if element_id == TIMECODE:
                    if size == UNKNOWN or size > 8:
                        raise LiveStreamError("a Cluster Timecode of absurd size")
                    if pos + header + size > len(data):
                        break
                    cursor.cluster_ticks = _uint(bytes(data[pos + header : pos + header + size]))
                elif element_id in (SIMPLEBLOCK, BLOCKGROUP):
                    if size == UNKNOWN:
                        raise LiveStreamError("a block of unknown size")
                    block = self._block_at(data, pos, header, size, element_id)
                    if block is False:
                        break
                    if block is not None:
                        result.blocks.append(block)
                elif size == UNKNOWN:
                    raise LiveStreamError(f"element {element_id:#x} of unknown size inside a Cluster")
                pos += header + size
                cursor.offset += header + size
                continue
            # Segment level.
            if element_id == CLUSTER:
                if not cursor.ready:
                    raise LiveStreamError("a Cluster before any audio track was declared")
                cursor.cluster_end = UNKNOWN if size == UNKNOWN else cursor.offset + header + size
                cursor.cluster_ticks = 0
                pos += header
                cursor.offset += header
                continue
            if size == UNKNOWN:
                raise LiveStreamError(f"Segment-level element {element_id:#x} of unknown size")
            if element_id in (INFO, TRACKS):
                if size > MAX_HEADER_ELEMENT_BYTES:
                    raise LiveStreamError("an Info or Tracks element of absurd size")
                if pos + header + size > len(data):
                    break
                self._header_element(element_id, bytes(data[pos + header : pos + header + size]))
            pos += header + size
            cursor.offset += header + size
        if at_end and not cursor.done and pos >= len(data):
            cursor.done = True
        result.consumed = cursor.offset - start_offset
        return result

    def _block_at(self, data: bytes | memoryview, pos: int, header: int, size: int, element_id: int):
        """The audio block of the element at `pos`; None for another track's; False when the
        element is cut and its track is audio (or cannot be told yet)."""
        body = pos + header
        probe = bytes(data[body : body + min(size, 16)])
        if element_id == BLOCKGROUP:
            if pos + header + size > len(data):
                # Its Block's track cannot be told without the group: read it whole (bounded).
                if size > MAX_AUDIO_BLOCK_BYTES * 4:
                    return None if self._group_track_skippable(probe) else False
                return False
            for child_id, _, child in _children(bytes(data[body : body + size])):
                if child_id == BLOCK:
                    return _block(child, self.cursor)
            return None
        got = read_size(probe, 0)
        if got is None:
            return False
        if got[0] != self.cursor.audio_track:
            return None  # a video block: skipped by its size, never read
        if size > MAX_AUDIO_BLOCK_BYTES:
            raise LiveStreamError(f"an audio block of {size} bytes")
        if pos + header + size > len(data):
            return False
        return _block(bytes(data[body : body + size]), self.cursor)

    def _group_track_skippable(self, probe: bytes) -> bool:
        """A large BlockGroup whose first child is a Block of another track (a video frame)."""
        got_id = read_id(probe, 0)
        if got_id is None or got_id[0] != BLOCK:
            return False
        got_size = read_size(probe, got_id[1])
        if got_size is None:
            return False
        track = read_size(probe, got_id[1] + got_size[1])
        return track is not None and track[0] != self.cursor.audio_track

    def _header_element(self, element_id: int, payload: bytes) -> None:
        cursor = self.cursor
        if element_id == INFO:
            for child_id, _, child in _children(payload):
                if child_id == TIMECODE_SCALE:
                    scale = _uint(child)
                    if not 1_000 <= scale <= 1_000_000_000:
                        raise LiveStreamError(f"a TimecodeScale of {scale} ns")
                    cursor.timecode_scale = scale
            return
        if cursor.seen_tracks:
            return
        cursor.seen_tracks = True
        found = _audio_entry(payload)
        if found is None:
            raise LiveStreamError("the recording has no audio track")
        number, entry, codec, delay = found
        if codec not in SUPPORTED_CODECS:
            raise LiveStreamError(f"audio codec {codec} is not followed live")
        cursor.audio_track = number
        cursor.track_entry = base64.b64encode(entry).decode("ascii")
        cursor.codec = codec
        cursor.codec_delay_ns = min(delay, 1_000_000_000)


# --- writing an audio-only WebM --------------------------------------------------------------


def _vint_size(value: int) -> bytes:
    for length in range(1, 9):
        if value < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | value).to_bytes(length, "big")
    raise ValueError("element too large")


def _element(element_id: int, payload: bytes) -> bytes:
    id_bytes = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return id_bytes + _vint_size(len(payload)) + payload


def _uint_element(element_id: int, value: int) -> bytes:
    return _element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def audio_webm(cursor: WebmCursor, blocks: list[AudioBlock]) -> bytes:
    """An audio-only WebM holding `blocks` (in order) with their original times."""
    if not cursor.ready:
        raise LiveStreamError("no audio track to write")
    header = _element(
        EBML_HEADER,
        _uint_element(0x4286, 1) + _uint_element(0x42F7, 1) + _uint_element(0x42F2, 4) + _uint_element(0x42F3, 8)
        + _element(0x4282, b"webm") + _uint_element(0x4287, 4) + _uint_element(0x4285, 2),
    )  # fmt: skip
    info = _element(INFO, _uint_element(TIMECODE_SCALE, cursor.timecode_scale) + _element(0x4D80, b"recordplus"))
    tracks = _element(TRACKS, base64.b64decode(cursor.track_entry))
    track = _vint_size(cursor.audio_track or 1)
    clusters = []
    i = 0
    while i < len(blocks):
        base = blocks[i].ticks
        body = [_uint_element(TIMECODE, max(base, 0))]
        base = max(base, 0)
        while i < len(blocks) and blocks[i].ticks - base <= MAX_CLUSTER_SPAN_TICKS and blocks[i].ticks >= base:
            block = blocks[i]
            body.append(_element(SIMPLEBLOCK, track + struct.pack(">hB", block.ticks - base, 0x80) + block.data))
            i += 1
        if len(body) == 1:  # a block before the cluster's base (negative time): drop it
            i += 1
            continue
        clusters.append(_element(CLUSTER, b"".join(body)))
    segment_payload = info + tracks + b"".join(clusters)
    return header + _element(SEGMENT, segment_payload)
