"""Our own container parsers stay small whatever the upload holds (issue 10 item 2).

The bomb: a valid 4 s WebM whose Segment has unknown size, with millions of 2-byte empty
elements (Void, size 0) right after the Segment header. The walker that listed every Segment
child allocated ~37 bytes per uploaded byte (16 MB → +585 MiB; 64 MB → 2.4 GiB). The MP4 twin
is millions of empty 8-byte `free` boxes in front of `moov`. Each parser of ours (layout,
integrity, ordering) runs in-process under tracemalloc: its peak must stay under a fixed bound,
and it must answer correctly or fail with a clear reason. The same walks on a 16 MB and a 64 MB
bomb must peak alike: memory independent of the upload's size, not merely under a bound at one
size (a walker keeping a few bytes per element would pass at 16 MB and grow with the upload).
"""

from __future__ import annotations

import subprocess
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.integrity import CorruptMedia, verify_whole
from recordplus.assembler.layout import matroska_doctype, matroska_layout, mp4_is_faststart
from recordplus.assembler.ordering import OrderUnknown, order_pieces
from tests.support import ffmpeg

PEAK_BOUND = 20 << 20  # bytes; the bug took 585 MiB for 16 MB
BOMB_BYTES = 16 << 20
BIG_BOMB_BYTES = 64 << 20  # the size that took a worker past the chart's 2 GiB limit
# How much more a walk of the 4x larger bomb may peak: slack for allocator noise, far below
# the ~37 bytes per uploaded byte of the bug (+1.7 GiB for the 48 MB more).
GROWTH_SLACK = 1 << 20
PIECE_BYTES = 1 << 20  # the original extension's pieces
SEGMENT_UNKNOWN = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"
VOID_EMPTY = b"\xec\x80"
FREE_EMPTY = b"\x00\x00\x00\x08free"


def peak_of(call: Callable[[], Any]) -> tuple[Any, int]:
    """(what `call` returned or raised, the peak bytes Python allocated during it)."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = call()
        except Exception as exc:  # the outcome is judged by the test
            outcome = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return outcome, peak


def _encode(path: Path, *codec: str) -> bytes:
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15",
         "-t", "4", *codec, str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path.read_bytes()


class Bombs:
    """The bombs, made once per size from handwritten filler around a real 4 s recording."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # A MediaRecorder-like WebM (Segment and Clusters of unknown size) and a plain MP4.
        self.webm = _encode(folder / "live.webm", "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k",
                            "-live", "1", "-f", "webm")  # fmt: skip
        self.mp4 = _encode(folder / "plain.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
        self._made: dict[str, Path] = {}
        self._peaks: dict[tuple[str, int], tuple[Any, int]] = {}

    def void(self, size: int) -> Path:
        path = self.folder / f"void-bomb-{size}.webm"
        if path.name not in self._made:
            at = self.webm.index(SEGMENT_UNKNOWN) + len(SEGMENT_UNKNOWN)
            filler = VOID_EMPTY * ((size - len(self.webm)) // len(VOID_EMPTY))
            path.write_bytes(self.webm[:at] + filler + self.webm[at:])
            self._made[path.name] = path
        return path

    def free(self, size: int) -> Path:
        path = self.folder / f"free-bomb-{size}.mp4"
        if path.name not in self._made:
            ftyp_end = int.from_bytes(self.mp4[:4], "big")
            path.write_bytes(self.mp4[:ftyp_end] + FREE_EMPTY * (size // len(FREE_EMPTY)) + self.mp4[ftyp_end:])
            self._made[path.name] = path
        return path

    def void_pieces(self, size: int) -> list[Path]:
        """The void bomb cut into the extension's 1 MiB pieces, the first first and the rest
        reversed (arrival order means nothing)."""
        folder = self.folder / f"pieces-{size}"
        if not folder.exists():
            folder.mkdir()
            with open(self.void(size), "rb") as source:
                number = 0
                while piece := source.read(PIECE_BYTES):
                    (folder / f"{number:04}.part").write_bytes(piece)
                    number += 1
        pieces = sorted(folder.iterdir())
        return pieces[:1] + pieces[1:][::-1]

    def peak(self, walk: str, size: int) -> tuple[Any, int]:
        """(outcome, peak) of `walk` on the bomb of `size`, measured once per module."""
        if (walk, size) not in self._peaks:
            target: Callable[[], Any] = {
                "matroska_doctype": lambda: matroska_doctype(self.void(size)),
                "matroska_layout": lambda: matroska_layout(self.void(size)),
                "verify_whole(webm)": lambda: verify_whole(self.void(size)),
                "order_pieces": lambda: order_pieces(self.void_pieces(size)),
                "mp4_is_faststart": lambda: mp4_is_faststart(self.free(size)),
                "verify_whole(mp4)": lambda: verify_whole(self.free(size)),
            }[walk]
            self.void(size), self.free(size)  # made before the measurement, not inside it
            if walk == "order_pieces":
                self.void_pieces(size)
            self._peaks[walk, size] = peak_of(target)
        return self._peaks[walk, size]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> Bombs:
    return Bombs(tmp_path_factory.mktemp("bounds"))


def test_it_reads_the_doctype_of_a_void_bomb_in_bounded_memory(bombs: Bombs) -> None:
    doctype, peak = bombs.peak("matroska_doctype", BOMB_BYTES)
    assert doctype == "webm"
    assert peak < PEAK_BOUND, peak


def test_it_walks_the_layout_of_a_void_bomb_in_bounded_memory(bombs: Bombs) -> None:
    layout, peak = bombs.peak("matroska_layout", BOMB_BYTES)
    assert peak < PEAK_BOUND, peak
    assert not isinstance(layout, Exception), layout
    # A correct, bounded answer: the Voids are listed up to the cap, no Cues were reached.
    assert layout.doctype == "webm" and not layout.segment_size_known
    assert len(layout.elements) <= 64 and set(layout.elements) == {"Void"}
    assert not layout.cues_before_clusters


def test_it_refuses_to_verify_a_void_bomb_in_bounded_memory(bombs: Bombs) -> None:
    outcome, peak = bombs.peak("verify_whole(webm)", BOMB_BYTES)
    assert peak < PEAK_BOUND, peak
    assert isinstance(outcome, CorruptMedia), outcome
    assert "far denser than any recording" in str(outcome)


def test_it_gives_up_ordering_a_void_bomb_in_bounded_memory(bombs: Bombs) -> None:
    outcome, peak = bombs.peak("order_pieces", BOMB_BYTES)
    assert peak < PEAK_BOUND, peak
    assert isinstance(outcome, OrderUnknown), outcome
    assert "piece" in str(outcome)


def test_it_checks_a_free_box_bomb_in_bounded_memory(bombs: Bombs) -> None:
    faststart, peak = bombs.peak("mp4_is_faststart", BOMB_BYTES)
    assert peak < PEAK_BOUND, peak
    assert faststart is False  # moov lies beyond what the walk may visit: not proven faststart
    outcome, peak = bombs.peak("verify_whole(mp4)", BOMB_BYTES)
    assert peak < PEAK_BOUND, peak
    assert isinstance(outcome, MediaRejected), outcome
    assert "denser than any recording" in str(outcome)


@pytest.mark.parametrize(
    "walk", ["matroska_doctype", "matroska_layout", "verify_whole(webm)", "order_pieces", "mp4_is_faststart", "verify_whole(mp4)"]
)
def test_its_memory_does_not_grow_with_the_upload(bombs: Bombs, walk: str) -> None:
    """Catches a walker whose memory is proportional to the upload (the bug: a list of every
    Segment child) but small enough at 16 MB to pass the bound: four times the bomb must not
    peak higher, and must end the same way (same answer, or the same kind of refusal)."""
    small, small_peak = bombs.peak(walk, BOMB_BYTES)
    big, big_peak = bombs.peak(walk, BIG_BOMB_BYTES)
    assert big_peak < PEAK_BOUND, (walk, big_peak)
    assert big_peak < small_peak + GROWTH_SLACK, f"{walk}: {small_peak} bytes at 16 MB, {big_peak} at 64 MB"
    assert type(big) is type(small), (small, big)
    if not isinstance(small, Exception):
        assert (big.elements, big.doctype) == (small.elements, small.doctype) if walk == "matroska_layout" else big == small
