"""Incremental reading of a fragmented MP4 stream while it is still being uploaded. Plain
module: no Django, no Dramatiq.

Chromium's MediaRecorder in MP4 mode (`video/mp4;codecs=avc1,opus`, `...vp9,opus`) writes the
initialization segment (`ftyp` + `moov`, with `mvex`) as piece 0 and then one `moof` + `mdat`
fragment per video key frame. `Mp4Reader` follows it the way `WebmReader` follows WebM, with
the same persisted `WebmCursor` and the same `WalkResult`: at `moov` it finds the audio track
(Opus with `dOps`, or AAC with `esds`) and writes an equivalent Matroska TrackEntry into the
cursor, so `audio_webm` and the rest of the decode step work unchanged; at each `moof` it reads
the audio track's `tfhd`/`tfdt`/`trun` and remembers where that fragment's audio samples lie
(absolute offsets, kept in the cursor); inside the following `mdat` it takes those samples and
skips everything else (video) by moving the cursor past it, never reading it. A box cut by the
end of the bytes received so far is read again, whole, next time.

Everything is bounded: box sizes must make sense, `moov`/`moof` and an audio sample have size
limits, a fragment a limited number of audio samples, and a walk visits a limited number of
boxes. What it cannot follow (a non-fragmented MP4, no audio track, another codec, a size that
makes no sense) raises LiveStreamError: the recording is transcribed whole after assembly.
"""

from __future__ import annotations

import base64
import itertools
import struct

from recordplus.assembler.live_webm import (
    CODEC_DELAY,
    CODEC_ID,
    CODEC_PRIVATE,
    EBML_HEADER,
    MAX_AUDIO_BLOCK_BYTES,
    TRACK_ENTRY,
    TRACK_NUMBER,
    TRACK_TYPE,
    TRACK_TYPE_AUDIO,
    AudioBlock,
    LiveStreamError,
    WalkResult,
    WebmCursor,
    WebmReader,
    _element,
    _uint_element,
)

MAX_HEADER_BOX_BYTES = 4 << 20  # moov, moof: a few hundred bytes to a few KB in practice
MAX_BOX_BYTES = 1 << 36  # an mdat (or a box skipped unread) larger than 64 GiB is not a recording
MAX_SAMPLES_PER_FRAGMENT = 1 << 16  # audio samples of one fragment (Chromium: ~17 per second)
MAX_BOXES_PER_WALK = 200_000
MAX_NESTED_BOXES = 10_000  # children parsed inside one moov/moof
MATROSKA_TRACK = 1  # the TrackNumber of the synthetic audio TrackEntry
CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"edts"})
SEEK_PRE_ROLL = 0x56BB
TRACK_UID = 0x73C5
AUDIO = 0xE1
SAMPLING_FREQUENCY = 0xB5
CHANNELS = 0x9F
# tfhd flags
BASE_DATA_OFFSET = 0x000001
SAMPLE_DESCRIPTION_INDEX = 0x000002
DEFAULT_DURATION = 0x000008
DEFAULT_SIZE = 0x000010
DEFAULT_FLAGS = 0x000020
DEFAULT_BASE_IS_MOOF = 0x020000
# trun flags
DATA_OFFSET = 0x000001
FIRST_SAMPLE_FLAGS = 0x000004
SAMPLE_DURATION = 0x000100
SAMPLE_SIZE = 0x000200
SAMPLE_FLAGS = 0x000400
SAMPLE_CTO = 0x000800
WEBM_MAGIC = EBML_HEADER.to_bytes(4, "big")
AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def is_mp4(data: bytes | memoryview) -> bool:
    """The stream starts with an `ftyp` box."""
    return len(data) >= 8 and bytes(data[4:8]) == b"ftyp"


def stream_reader(cursor: WebmCursor, data: bytes | memoryview) -> WebmReader | Mp4Reader:
    """The reader for the stream the cursor follows, told at its first bytes (an EBML header:
    WebM; an `ftyp` box: MP4) and remembered in the cursor afterwards."""
    if cursor.offset == 0 and cursor.container == "webm":
        head = bytes(data[:8])
        if is_mp4(head):
            cursor.container = "mp4"
        elif len(head) < 8 and not WEBM_MAGIC.startswith(head[:4]):
            return Mp4Reader(cursor)  # too few bytes to tell: it reads nothing until there are 8
    return Mp4Reader(cursor) if cursor.container == "mp4" else WebmReader(cursor)


def _box_header(data: bytes | memoryview, pos: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, whole size, header length) of the box at `pos`; None when `data` ends inside the
    header. A size of 0 (to the end of the file) cannot be followed live."""
    if pos + 8 > end:
        return None
    size, kind = struct.unpack(">I4s", bytes(data[pos : pos + 8]))
    header = 8
    if size == 1:
        if pos + 16 > end:
            return None
        (size,) = struct.unpack(">Q", bytes(data[pos + 8 : pos + 16]))
        header = 16
    elif size == 0:
        raise LiveStreamError(f"an MP4 box of size 0 (to the end of the file) at byte {pos}")
    if size < header:
        raise LiveStreamError(f"an MP4 box of {size} bytes at byte {pos}")
    if size > MAX_BOX_BYTES:
        raise LiveStreamError(f"an MP4 box of {size} bytes at byte {pos}")
    if kind == b"uuid":
        header += 16
        if size < header:
            raise LiveStreamError(f"a uuid box of {size} bytes at byte {pos}")
    if not all(32 <= c < 127 for c in kind):
        raise LiveStreamError(f"not an MP4 box at byte {pos} (type {kind!r})")
    return kind, size, header


def _boxes(payload: bytes, counter: list[int]) -> list[tuple[bytes, bytes]]:
    """(type, payload) of each box in a complete container payload."""
    out = []
    pos = 0
    while pos < len(payload):
        counter[0] += 1
        if counter[0] > MAX_NESTED_BOXES:
            raise LiveStreamError("too many boxes inside one moov/moof")
        got = _box_header(payload, pos, len(payload))
        if got is None:
            raise LiveStreamError("a truncated box inside a moov/moof")
        kind, size, header = got
        if pos + size > len(payload):
            raise LiveStreamError(f"a {kind!r} box runs past its parent")
        out.append((kind, payload[pos + header : pos + size]))
        pos += size
    return out


def _child(boxes: list[tuple[bytes, bytes]], kind: bytes) -> bytes | None:
    return next((payload for k, payload in boxes if k == kind), None)


def _need(payload: bytes | None, length: int, what: str) -> bytes:
    if payload is None or len(payload) < length:
        raise LiveStreamError(f"a missing or truncated {what} box")
    return payload


def _descriptor(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, payload start, payload end) of the MPEG-4 descriptor at `pos` (ISO 14496-1)."""
    if pos + 2 > len(data):
        raise LiveStreamError("a truncated esds descriptor")
    tag = data[pos]
    size = 0
    at = pos + 1
    for _ in range(4):
        if at >= len(data):
            raise LiveStreamError("a truncated esds descriptor")
        byte = data[at]
        at += 1
        size = (size << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    if at + size > len(data):
        raise LiveStreamError("an esds descriptor runs past its box")
    return tag, at, at + size


def _audio_specific_config(esds: bytes) -> bytes:
    """The AAC AudioSpecificConfig inside an `esds` box payload."""
    tag, start, end = _descriptor(esds, 4)  # after version + flags
    if tag != 0x03 or end - start < 3:
        raise LiveStreamError("an esds without an ES descriptor")
    flags = esds[start + 2]
    at = start + 3
    if flags & 0x80:
        at += 2
    if flags & 0x40:
        at += 1 + (esds[at] if at < end else 0)
    if flags & 0x20:
        at += 2
    while at < end:
        tag, body, stop = _descriptor(esds, at)
        if tag == 0x04:  # DecoderConfigDescriptor
            if stop - body < 13 or esds[body] != 0x40:
                raise LiveStreamError("an mp4a track that is not MPEG-4 AAC")
            inner = body + 13
            while inner < stop:
                tag, payload, after = _descriptor(esds, inner)
                if tag == 0x05:
                    config = esds[payload:after]
                    if len(config) < 2 or len(config) > 64:
                        raise LiveStreamError("an AAC AudioSpecificConfig of absurd size")
                    return config
                inner = after
        at = stop
    raise LiveStreamError("an AAC track without an AudioSpecificConfig")


def _aac_rate(config: bytes, fallback: int) -> int:
    index = ((config[0] & 0x07) << 1) | (config[1] >> 7)
    return AAC_SAMPLE_RATES[index] if index < len(AAC_SAMPLE_RATES) else fallback


def _track_entry(codec: str, private: bytes, rate: int, channels: int, delay_ns: int) -> bytes:
    """A Matroska audio TrackEntry (whole element) equivalent to the MP4 sample entry."""
    frequency = _element(SAMPLING_FREQUENCY, struct.pack(">d", float(rate)))
    body = (
        _uint_element(TRACK_NUMBER, MATROSKA_TRACK) + _uint_element(TRACK_UID, MATROSKA_TRACK)
        + _uint_element(TRACK_TYPE, TRACK_TYPE_AUDIO) + _element(CODEC_ID, codec.encode("ascii"))
        + _element(CODEC_PRIVATE, private) + _element(AUDIO, frequency + _uint_element(CHANNELS, channels))
    )  # fmt: skip
    if codec == "A_OPUS":
        body += _uint_element(CODEC_DELAY, delay_ns) + _uint_element(SEEK_PRE_ROLL, 80_000_000)
    return _element(TRACK_ENTRY, body)


def _sample_entry(entry_kind: bytes, entry: bytes, counter: list[int]) -> tuple[str, bytes, int, int, int]:
    """(Matroska codec id, CodecPrivate, sample rate, channels, codec delay in ns) of an audio
    sample entry (`Opus` or `mp4a`)."""
    if len(entry) < 28:
        raise LiveStreamError("a truncated audio sample entry")
    version = struct.unpack(">H", entry[8:10])[0]
    channels = struct.unpack(">H", entry[16:18])[0]
    rate = struct.unpack(">I", entry[24:28])[0] >> 16
    extra = {0: 0, 1: 16}.get(version)
    if extra is None:
        raise LiveStreamError(f"an audio sample entry of version {version}")
    children = _boxes(entry[28 + extra :], counter)
    if entry_kind == b"Opus":
        dops = _need(_child(children, b"dOps"), 11, "dOps")
        if dops[0] != 0:
            raise LiveStreamError(f"a dOps box of version {dops[0]}")
        count, pre_skip, input_rate, gain, family = struct.unpack(">BHIhB", dops[1:11])
        mapping = dops[11 : 11 + 2 + count] if family else b""
        if family and len(mapping) != 2 + count:
            raise LiveStreamError("a truncated dOps channel mapping")
        # OpusHead (RFC 7845, section 5.1) is dOps with the version set and little-endian fields.
        head = b"OpusHead" + struct.pack("<BBHIhB", 1, count, pre_skip, input_rate, gain, family) + mapping
        # As for WebM: the decoder drops the pre-skip at its start, so does the whole-file decode.
        return "A_OPUS", head, 48_000, count, pre_skip * 1_000_000_000 // 48_000
    if entry_kind == b"mp4a":
        config = _audio_specific_config(_need(_child(children, b"esds"), 5, "esds"))
        return "A_AAC", config, _aac_rate(config, rate), max(channels, 1), 0
    raise LiveStreamError(f"audio codec {entry_kind.decode('ascii', 'replace')} is not followed live")


class Mp4Reader:
    """Walks `data` (the stream's bytes from `cursor.offset` on) and moves `cursor` forward."""

    def __init__(self, cursor: WebmCursor) -> None:
        self.cursor = cursor

    def walk(self, data: bytes | memoryview, *, at_end: bool = False) -> WalkResult:
        """Read every complete box of `data` (which starts at `cursor.offset`) and the audio
        samples of every fragment in it. With `at_end` (no more bytes will come), whatever is
        still cut is dropped and the stream is done."""
        cursor = self.cursor
        if cursor.offset == 0 and len(data) >= 8 and not is_mp4(data):
            raise LiveStreamError("not an MP4 stream (it does not start with an ftyp box)")
        result = WalkResult()
        start_offset = cursor.offset
        base = cursor.offset  # the absolute offset of data[0]
        pos = 0
        visited = 0
        while not cursor.done:
            visited += 1
            if visited > MAX_BOXES_PER_WALK:
                break
            if cursor.mp4_mdat_end is not None:  # inside an mdat: take the audio samples
                if not self._take_samples(data, base, result):
                    pos = cursor.offset - base
                    break
                cursor.offset = cursor.mp4_mdat_end
                cursor.mp4_mdat_end = None
                pos = cursor.offset - base
                continue
            got = _box_header(data, pos, len(data))
            if got is None:
                break  # the box header is cut: wait for more bytes
            kind, size, header = got
            if kind in (b"moov", b"moof"):
                if size > MAX_HEADER_BOX_BYTES:
                    raise LiveStreamError(f"a {kind.decode()} box of {size} bytes")
                if pos + size > len(data):
                    break
                payload = bytes(data[pos + header : pos + size])
                try:
                    if kind == b"moov":
                        self._moov(payload)
                    else:
                        self._moof(payload, cursor.offset)
                except (struct.error, IndexError, ValueError, UnicodeError) as exc:
                    # A field shorter than its box says: nothing to follow, not a bug to retry.
                    raise LiveStreamError(f"a malformed {kind.decode()} box ({exc})") from exc
            elif kind == b"mdat":
                if not cursor.ready:
                    raise LiveStreamError("an mdat before the moov: not a fragmented MP4 followed live")
                end = cursor.offset + size
                if any(o < cursor.offset + header or o + n > end for o, n, _ in cursor.mp4_pending):
                    raise LiveStreamError("a fragment's audio samples lie outside its mdat")
                cursor.mp4_mdat_end = end
                pos += header
                cursor.offset += header
                continue
            pos += size
            cursor.offset += size
        if at_end and pos >= len(data) and not cursor.done:
            cursor.done = True
        result.consumed = cursor.offset - start_offset
        return result

    def _take_samples(self, data: bytes | memoryview, base: int, result: WalkResult) -> bool:
        """Take the pending samples whose bytes are in `data`; False when one is cut (the cursor
        then stands at its start: the video bytes before it are skipped, never read)."""
        cursor = self.cursor
        taken = 0
        for offset, size, ticks in cursor.mp4_pending:
            rel = offset - base
            if rel + size > len(data):
                cursor.offset = offset
                break
            result.blocks.append(AudioBlock(ticks, bytes(data[rel : rel + size])))
            cursor.offset = offset + size
            taken += 1
        del cursor.mp4_pending[:taken]
        return not cursor.mp4_pending

    def _moov(self, payload: bytes) -> None:
        cursor = self.cursor
        if cursor.seen_tracks:
            return
        cursor.seen_tracks = True
        counter = [0]
        children = _boxes(payload, counter)
        if _child(children, b"mvex") is None:
            raise LiveStreamError("not a fragmented MP4 (its moov has no mvex)")
        found = None
        for kind, trak in children:
            if kind != b"trak":
                continue
            boxes = _boxes(trak, counter)
            tkhd = _need(_child(boxes, b"tkhd"), 24, "tkhd")
            mdia = _boxes(_need(_child(boxes, b"mdia"), 0, "mdia"), counter)
            hdlr = _need(_child(mdia, b"hdlr"), 12, "hdlr")
            if hdlr[8:12] != b"soun":
                continue
            track_id = struct.unpack(">I", tkhd[12:16] if tkhd[0] == 0 else tkhd[20:24])[0]
            mdhd = _need(_child(mdia, b"mdhd"), 24, "mdhd")
            timescale = struct.unpack(">I", mdhd[12:16] if mdhd[0] == 0 else mdhd[20:24])[0]
            minf = _boxes(_need(_child(mdia, b"minf"), 0, "minf"), counter)
            stbl = _boxes(_need(_child(minf, b"stbl"), 0, "stbl"), counter)
            stsd = _need(_child(stbl, b"stsd"), 8, "stsd")
            entries = _boxes(stsd[8:], counter)
            if not entries:
                raise LiveStreamError("an audio track without a sample entry")
            found = (track_id, timescale, entries[0])
            break
        if found is None:
            raise LiveStreamError("the recording has no audio track")
        track_id, timescale, (entry_kind, entry) = found
        if not 1 <= timescale <= 10_000_000:
            raise LiveStreamError(f"an audio timescale of {timescale}")
        codec, private, rate, channels, delay = _sample_entry(entry_kind, entry, counter)
        for kind, trex in _boxes(_child(children, b"mvex") or b"", counter):
            if kind == b"trex" and len(trex) >= 24 and struct.unpack(">I", trex[4:8])[0] == track_id:
                cursor.mp4_default_duration, cursor.mp4_default_size = struct.unpack(">II", trex[12:20])
        cursor.mp4_track_id = track_id
        cursor.mp4_timescale = timescale
        cursor.audio_track = MATROSKA_TRACK
        cursor.codec = codec
        cursor.codec_delay_ns = min(delay, 1_000_000_000)
        cursor.track_entry = base64.b64encode(_track_entry(codec, private, rate, channels, cursor.codec_delay_ns)).decode(
            "ascii"
        )

    def _moof(self, payload: bytes, moof_offset: int) -> None:
        """Remember where the audio samples of this fragment lie, and their times."""
        cursor = self.cursor
        if not cursor.ready:
            raise LiveStreamError("a moof before any audio track was declared")
        if cursor.mp4_pending:
            raise LiveStreamError("a fragment's audio samples lie outside its mdat")
        counter = [0]
        samples: list[list[int]] = []
        for kind, traf in _boxes(payload, counter):
            if kind != b"traf":
                continue
            boxes = _boxes(traf, counter)
            tfhd = _need(_child(boxes, b"tfhd"), 8, "tfhd")
            flags = int.from_bytes(tfhd[1:4], "big")
            if struct.unpack(">I", tfhd[4:8])[0] != cursor.mp4_track_id:
                continue  # another track's (video): nothing of it is kept
            at = 8
            base = moof_offset
            if flags & BASE_DATA_OFFSET:
                base = struct.unpack(">Q", _need(tfhd, at + 8, "tfhd")[at : at + 8])[0]
                at += 8
            elif not flags & DEFAULT_BASE_IS_MOOF and samples:
                raise LiveStreamError("a second audio traf whose data offsets are relative to another's")
            if flags & SAMPLE_DESCRIPTION_INDEX:
                at += 4
            duration, size = cursor.mp4_default_duration, cursor.mp4_default_size
            if flags & DEFAULT_DURATION:
                duration = struct.unpack(">I", _need(tfhd, at + 4, "tfhd")[at : at + 4])[0]
                at += 4
            if flags & DEFAULT_SIZE:
                size = struct.unpack(">I", _need(tfhd, at + 4, "tfhd")[at : at + 4])[0]
                at += 4
            tfdt = _child(boxes, b"tfdt")
            time = cursor.mp4_next_time
            if tfdt is not None:
                tfdt = _need(tfdt, 8, "tfdt")
                time = struct.unpack(">Q", _need(tfdt, 12, "tfdt")[4:12])[0] if tfdt[0] == 1 else struct.unpack(">I", tfdt[4:8])[0]
            data_at = base
            for run_kind, trun in boxes:
                if run_kind == b"trun":
                    time, data_at = self._trun(trun, base, data_at, time, duration, size, samples)
            cursor.mp4_next_time = time
        samples.sort()
        for (a, n, _), (b, _, _) in itertools.pairwise(samples):
            if a + n > b:
                raise LiveStreamError("overlapping audio samples in a fragment")
        cursor.mp4_pending = samples

    def _trun(
        self, trun: bytes, base: int, data_at: int, time: int, duration: int, size: int, samples: list[list[int]]
    ) -> tuple[int, int]:
        """Add one `trun`'s samples ([absolute offset, size, ticks]); (next time, next offset)."""
        cursor = self.cursor
        trun = _need(trun, 8, "trun")
        flags = int.from_bytes(trun[1:4], "big")
        (count,) = struct.unpack(">I", trun[4:8])
        at = 8
        if flags & DATA_OFFSET:
            (relative,) = struct.unpack(">i", _need(trun, at + 4, "trun")[at : at + 4])
            data_at = base + relative
            at += 4
        if flags & FIRST_SAMPLE_FLAGS:
            at += 4
        fields = [bit for bit in (SAMPLE_DURATION, SAMPLE_SIZE, SAMPLE_FLAGS, SAMPLE_CTO) if flags & bit]
        if len(samples) + count > MAX_SAMPLES_PER_FRAGMENT:
            raise LiveStreamError(f"a fragment of more than {MAX_SAMPLES_PER_FRAGMENT} audio samples")
        if len(trun) < at + count * 4 * len(fields):
            raise LiveStreamError(f"a trun of {count} samples that holds fewer")
        values = struct.unpack(f">{count * len(fields)}I", trun[at : at + count * 4 * len(fields)])
        width = len(fields)
        has_duration, has_size = SAMPLE_DURATION in fields, SAMPLE_SIZE in fields
        size_at = fields.index(SAMPLE_SIZE) if has_size else 0
        scale = cursor.mp4_timescale * cursor.timecode_scale
        for i in range(count):
            row = values[i * width : (i + 1) * width]
            sample_duration = row[0] if has_duration else duration
            sample_size = row[size_at] if has_size else size
            if sample_size > MAX_AUDIO_BLOCK_BYTES:
                raise LiveStreamError(f"an audio sample of {sample_size} bytes")
            if data_at < 0:
                raise LiveStreamError("an audio sample before the start of the stream")
            ticks = (time * 1_000_000_000 + scale // 2) // scale
            if sample_size:
                samples.append([data_at, sample_size, ticks])
            data_at += sample_size
            time += sample_duration
        return time, data_at

