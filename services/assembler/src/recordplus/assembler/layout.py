"""Read the top-level layout of MP4 and Matroska/WebM files without decoding them.

Browsers fetch the start of a file first: an MP4 plays and seeks without extra round trips only
when its `moov` box comes before `mdat`, a WebM seeks cheaply only when it has a duration and
its Cues (the seek index) are reachable early. These readers look at a few hundred bytes per
element, so they are cheap on any file size. ffprobe cannot tell a WebM's DocType or where its
Cues sit, hence this module.

Bounded whatever the upload holds: a walk visits at most MAX_ELEMENTS_VISITED elements (or
MAX_BOXES_VISITED boxes) and remembers a fixed number of them, so a file of millions of tiny
empty elements costs neither memory nor minutes; `matroska_doctype` reads the EBML header only.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# A real recording's Segment has a handful of children besides its Clusters (one per few
# seconds: ~3000 in a 4-hour recording); MP4 has a few top-level boxes, or two per fragment.
MAX_ELEMENTS_VISITED = 100_000
MAX_ELEMENTS_LISTED = 64
MAX_BOXES_VISITED = 100_000

EBML_HEADER = 0x1A45DFA3
EBML_DOCTYPE = 0x4282
SEGMENT = 0x18538067
SEGMENT_INFO = 0x1549A966
INFO_DURATION = 0x4489
INFO_TIMESTAMP_SCALE = 0x2AD7B1
CUES = 0x1C53BB6B
CLUSTER = 0x1F43B675

_NAMES = {
    0x114D9B74: "SeekHead",
    SEGMENT_INFO: "Info",
    0x1654AE6B: "Tracks",
    CUES: "Cues",
    CLUSTER: "Cluster",
    0x1254C367: "Tags",
    0x1043A770: "Chapters",
    0x1941A469: "Attachments",
    0xEC: "Void",
}


@dataclass(frozen=True)
class Mp4Box:
    """One top-level ISO BMFF box."""

    type: str
    offset: int
    size: int


def iter_mp4_boxes(path: Path, *, limit: int = MAX_BOXES_VISITED) -> Iterator[Mp4Box]:
    """Top-level boxes of an MP4/MOV file, in file order (stops at the first malformed box, or
    after `limit` boxes)."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        offset = 0
        seen = 0
        while offset + 8 <= total and seen < limit:
            seen += 1
            fh.seek(offset)
            header = fh.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1 and len(header) >= 16:
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = total - offset
            # Box types are four printable characters; anything else is not ISO BMFF.
            if size < 8 or not all(32 <= c < 127 for c in kind):
                break
            yield Mp4Box(kind.decode("latin-1"), offset, size)
            offset += size


def mp4_boxes(path: Path, *, limit: int = MAX_ELEMENTS_LISTED) -> list[Mp4Box]:
    """The first `limit` top-level boxes of an MP4/MOV file, in file order."""
    return list(iter_mp4_boxes(path, limit=limit))


def mp4_is_faststart(path: Path) -> bool:
    """True when the `moov` box precedes the first `mdat` box."""
    for box in iter_mp4_boxes(path):
        if box.type == "moov":
            return True
        if box.type == "mdat":
            return False
    return False


@dataclass
class MatroskaLayout:
    """What the start of a Matroska/WebM file says about seeking."""

    doctype: str | None = None
    # Names of the Segment's first MAX_ELEMENTS_LISTED children in file order.
    elements: list[str] = field(default_factory=list)
    # Seconds, from Info's Duration and TimestampScale.
    duration: float | None = None
    segment_size_known: bool = True
    # Where the first Cues and the first Cluster are among the Segment's children (None: not seen).
    cues_at: int | None = None
    cluster_at: int | None = None
    visited: int = 0  # children walked (at most MAX_ELEMENTS_VISITED)

    @property
    def has_cues(self) -> bool:
        return self.cues_at is not None

    @property
    def cues_before_clusters(self) -> bool:
        """The seek index sits before the media data, where a browser reads first."""
        if self.cues_at is None:
            return False
        return self.cluster_at is None or self.cues_at < self.cluster_at

    def saw(self, name: str) -> None:
        """Count one Segment child (listed while the list has room)."""
        if name == "Cues" and self.cues_at is None:
            self.cues_at = self.visited
        elif name == "Cluster" and self.cluster_at is None:
            self.cluster_at = self.visited
        if len(self.elements) < MAX_ELEMENTS_LISTED:
            self.elements.append(name)
        self.visited += 1


def _read_vint(fh: BinaryIO, *, keep_marker: bool) -> tuple[int, int, bool] | None:
    """Read an EBML variable-length integer: (value, length, all_ones) or None at EOF."""
    first = fh.read(1)
    if not first:
        return None
    byte = first[0]
    length = 1
    mask = 0x80
    while length <= 8 and not byte & mask:
        mask >>= 1
        length += 1
    if length > 8:
        raise ValueError("invalid EBML variable-length integer")
    rest = fh.read(length - 1)
    if len(rest) != length - 1:
        return None
    value = byte if keep_marker else byte & (mask - 1)
    for extra in rest:
        value = (value << 8) | extra
    data_bits = 7 * length
    all_ones = not keep_marker and value == (1 << data_bits) - 1
    return value, length, all_ones


def _read_element_header(fh: BinaryIO) -> tuple[int, int | None] | None:
    """(element id, data size or None when unknown), or None at EOF."""
    ident = _read_vint(fh, keep_marker=True)
    if ident is None:
        return None
    size = _read_vint(fh, keep_marker=False)
    if size is None:
        return None
    return ident[0], None if size[2] else size[0]


def matroska_layout(path: Path) -> MatroskaLayout:
    """Walk the EBML header and the Segment's top-level children (without entering clusters).

    The walk stops at an element of unknown size (MediaRecorder writes clusters that way), at
    bytes that are not EBML, at the end of the file, or after MAX_ELEMENTS_VISITED children, so
    it is cheap even for long recordings and bounded for hostile ones.
    """
    layout = MatroskaLayout()
    try:
        _walk(path, layout)
    except ValueError:
        pass  # not (or no longer) EBML: report what was read so far
    return layout


def _walk(path: Path, layout: MatroskaLayout, *, header_only: bool = False) -> None:
    total = path.stat().st_size
    with path.open("rb") as fh:
        header = _read_element_header(fh)
        if header is None or header[0] != EBML_HEADER or header[1] is None:
            return
        ebml_end = fh.tell() + header[1]
        fields = 0
        while fh.tell() < ebml_end:
            fields += 1
            if fields > MAX_ELEMENTS_LISTED:  # the header has about 7 fields
                return
            child = _read_element_header(fh)
            # Header fields are a few bytes; a huge size means these are not EBML bytes.
            if child is None or child[1] is None or child[1] > 4096:
                return
            ident, size = child
            data = fh.read(size)
            if ident == EBML_DOCTYPE:
                layout.doctype = data.rstrip(b"\x00").decode("ascii", "replace")
        if header_only:
            return
        fh.seek(ebml_end)
        segment = _read_element_header(fh)
        if segment is None or segment[0] != SEGMENT:
            return
        layout.segment_size_known = segment[1] is not None
        segment_end = total if segment[1] is None else min(total, fh.tell() + segment[1])
        while fh.tell() < segment_end and layout.visited < MAX_ELEMENTS_VISITED:
            child = _read_element_header(fh)
            if child is None:
                break
            ident, size = child
            layout.saw(_NAMES.get(ident, f"0x{ident:X}"))
            if size is None:
                break
            data_start = fh.tell()
            if ident == SEGMENT_INFO:
                layout.duration = _info_duration(fh, size)
            fh.seek(data_start + size)


def _info_duration(fh: BinaryIO, size: int) -> float | None:
    """Read the Duration in seconds from an Info element (leaves the file after Info)."""
    end = fh.tell() + size
    duration: float | None = None
    scale_ns = 1_000_000  # Matroska's default TimestampScale: durations count milliseconds
    fields = 0
    while fh.tell() < end and fields < MAX_ELEMENTS_LISTED:  # Info has about 6 fields
        fields += 1
        child = _read_element_header(fh)
        if child is None or child[1] is None or child[1] > 4096:
            break
        ident, child_size = child
        data = fh.read(child_size)
        if ident == INFO_DURATION and child_size in (4, 8):
            duration = struct.unpack(">f" if child_size == 4 else ">d", data)[0]
        elif ident == INFO_TIMESTAMP_SCALE and 0 < child_size <= 8:
            scale_ns = int.from_bytes(data, "big")
    fh.seek(end)
    return None if duration is None else duration * scale_ns / 1e9


def matroska_doctype(path: Path) -> str | None:
    """The EBML DocType ("webm" or "matroska"), or None when the file is not EBML (reads the
    EBML header only)."""
    layout = MatroskaLayout()
    try:
        _walk(path, layout, header_only=True)
    except ValueError:
        pass
    return layout.doctype
