"""Our own container parsers stay small whatever the upload holds (issue 10 item 2).

The bomb: a valid 4 s WebM whose Segment has unknown size, with millions of 2-byte empty
elements (Void, size 0) right after the Segment header. The walker that listed every Segment
child allocated ~37 bytes per uploaded byte (16 MB → +585 MiB). The MP4 twin is millions of
empty 8-byte `free` boxes in front of `moov`. Each parser of ours (layout, integrity, ordering)
runs in-process under tracemalloc: its peak must stay under a fixed bound independent of the
upload's size, and it must answer correctly or fail with a clear reason.
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


@pytest.fixture(scope="module")
def live_webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A 4 s MediaRecorder-like WebM: Segment and Clusters of unknown size."""
    path = tmp_path_factory.mktemp("bounds") / "live.webm"
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15",
         "-t", "4", "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k", "-live", "1", "-f", "webm", str(path)],
        check=True, timeout=120,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def void_bomb(live_webm: bytes, tmp_path_factory: pytest.TempPathFactory) -> Path:
    at = live_webm.index(SEGMENT_UNKNOWN) + len(SEGMENT_UNKNOWN)
    filler = VOID_EMPTY * ((BOMB_BYTES - len(live_webm)) // len(VOID_EMPTY))
    path = tmp_path_factory.mktemp("bounds") / "void-bomb.webm"
    path.write_bytes(live_webm[:at] + filler + live_webm[at:])
    return path


@pytest.fixture(scope="module")
def free_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bounds")
    plain = folder / "plain.mp4"
    subprocess.run(
        [ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15",
         "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(plain)],
        check=True, timeout=120,
    )  # fmt: skip
    data = plain.read_bytes()
    ftyp_end = int.from_bytes(data[:4], "big")
    path = folder / "free-bomb.mp4"
    path.write_bytes(data[:ftyp_end] + FREE_EMPTY * (BOMB_BYTES // len(FREE_EMPTY)) + data[ftyp_end:])
    return path


def test_it_reads_the_doctype_of_a_void_bomb_in_bounded_memory(void_bomb: Path) -> None:
    doctype, peak = peak_of(lambda: matroska_doctype(void_bomb))
    assert doctype == "webm"
    assert peak < PEAK_BOUND, peak


def test_it_walks_the_layout_of_a_void_bomb_in_bounded_memory(void_bomb: Path) -> None:
    layout, peak = peak_of(lambda: matroska_layout(void_bomb))
    assert peak < PEAK_BOUND, peak
    assert not isinstance(layout, Exception), layout
    # A correct, bounded answer: the Voids are listed up to the cap, no Cues were reached.
    assert layout.doctype == "webm" and not layout.segment_size_known
    assert len(layout.elements) <= 64 and set(layout.elements) == {"Void"}
    assert not layout.cues_before_clusters


def test_it_refuses_to_verify_a_void_bomb_in_bounded_memory(void_bomb: Path) -> None:
    outcome, peak = peak_of(lambda: verify_whole(void_bomb))
    assert peak < PEAK_BOUND, peak
    assert isinstance(outcome, CorruptMedia), outcome
    assert "far denser than any recording" in str(outcome)


def test_it_gives_up_ordering_a_void_bomb_in_bounded_memory(void_bomb: Path, tmp_path: Path) -> None:
    data = void_bomb.read_bytes()
    pieces = []
    for number, start in enumerate(range(0, len(data), 1 << 20)):
        piece = tmp_path / f"{number}.part"
        piece.write_bytes(data[start : start + (1 << 20)])
        pieces.append(piece)
    del data
    shuffled = pieces[:1] + pieces[1:][::-1]  # arrival order means nothing
    outcome, peak = peak_of(lambda: order_pieces(shuffled))
    assert peak < PEAK_BOUND, peak
    assert isinstance(outcome, OrderUnknown), outcome
    assert "piece" in str(outcome)


def test_it_checks_a_free_box_bomb_in_bounded_memory(free_bomb: Path) -> None:
    faststart, peak = peak_of(lambda: mp4_is_faststart(free_bomb))
    assert peak < PEAK_BOUND, peak
    assert faststart is False  # moov lies beyond what the walk may visit: not proven faststart
    outcome, peak = peak_of(lambda: verify_whole(free_bomb))
    assert peak < PEAK_BOUND, peak
    assert isinstance(outcome, MediaRejected), outcome
    assert "denser than any recording" in str(outcome)
