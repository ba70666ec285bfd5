"""order_pieces: real MediaRecorder recordings, sliced and shuffled, come back byte-exact; anything
whose order cannot be proven is refused with the pieces named."""

from __future__ import annotations

import itertools
import random
import struct
import tracemalloc
from pathlib import Path

import pytest
from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.ordering import OrderUnknown, order_pieces

from tests.assembler.recordings import (
    CLUSTER_ID,
    RECORDING_NAMES,
    Recording,
    cluster_children,
    concatenation_sha256,
    mp4_boxes,
    recordings_fixture,
    segment_children,
    slice_every,
    write_pieces,
)

recordings = recordings_fixture  # the session fixture, made usable in this module
MIB = 1 << 20
SEED = 20260801


def assert_orders(pieces: list[Path], original: Recording, permutations, *, pinned_first: bool = False) -> int:
    """Shuffle `pieces` by each permutation; order_pieces must give back the original bytes.

    The sha256 of the concatenation is compared for every distinct result (hashing the same
    eight megabytes 720 times would only measure hashlib).
    """
    calls = 0
    checked: set[tuple[Path, ...]] = set()
    for permutation in permutations:
        shuffled = [pieces[i] for i in permutation]
        pinned = {permutation.index(0): 0} if pinned_first else None
        # Bounded by the search's own step budget (it raises when spent), not by a clock: timed
        # assertions flake on a loaded machine; speed is for tests/bench.
        order = order_pieces(shuffled, pinned=pinned)
        assert sorted(order) == list(range(len(pieces)))
        result = tuple(shuffled[i] for i in order)
        if result not in checked:
            assert concatenation_sha256(result) == original.sha256, permutation
            checked.add(result)
        calls += 1
    return calls


def random_permutations(count: int, how_many: int, seed: int = SEED):
    rng = random.Random(seed)
    for _ in range(how_many):
        permutation = list(range(count))
        rng.shuffle(permutation)
        yield permutation


def element_cuts(rec: Recording) -> dict[str, int]:
    """Offsets that cut a recording at interesting places (found by reading its structure)."""
    data = rec.data
    if rec.is_mp4:
        boxes = mp4_boxes(data)
        moof = [offset for kind, offset, _ in boxes if kind == b"moof"]
        mdat = [offset for kind, offset, _ in boxes if kind == b"mdat"]
        return {"at a moof": moof[2], "inside a moof header": moof[3] + 3, "inside mfhd": moof[3] + 20,
                "at an mdat": mdat[4], "inside an mdat header": mdat[5] + 5}
    clusters = [e for e in segment_children(data) if e.id == CLUSTER_ID]
    blocks = [c for c in cluster_children(data, clusters[0]) if c.id == 0xA3]
    return {"at a cluster": clusters[-1].offset, "inside a cluster's Timecode header": clusters[-1].body + 1,
            "at a block": blocks[5].offset, "inside a block's header": blocks[9].offset + 2,
            "inside a block's track and timecode": blocks[13].body + 2}


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_orders_every_permutation_of_six_pieces(recordings, name, tmp_path):
    rec = recordings[name]
    data = rec.data
    pieces = slice_every(data, -(-len(data) // 6), tmp_path)
    assert len(pieces) == 6
    assert assert_orders(pieces, rec, itertools.permutations(range(6))) == 720


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_orders_one_mib_pieces_as_the_extension_sends_them(recordings, name, tmp_path):
    rec = recordings[name]
    pieces = slice_every(rec.data, MIB, tmp_path)
    assert len(pieces) >= 3
    if len(pieces) <= 6:
        permutations = itertools.permutations(range(len(pieces)))
    else:
        permutations = random_permutations(len(pieces), 60)
    # The create call's piece is pinned first, as the API knows it; and without the pin too.
    assert_orders(pieces, rec, permutations, pinned_first=True)
    assert_orders(pieces, rec, random_permutations(len(pieces), 20, seed=1))


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_orders_odd_sized_pieces(recordings, name, tmp_path):
    rec = recordings[name]
    pieces = slice_every(rec.data, 333_333, tmp_path)
    assert len(pieces) > 10
    assert_orders(pieces, rec, random_permutations(len(pieces), 40))


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_orders_sixty_pieces_in_200_random_orders(recordings, name, tmp_path):
    rec = recordings[name]
    data = rec.data
    pieces = slice_every(data, -(-len(data) // 60), tmp_path)
    assert len(pieces) == 60
    assert assert_orders(pieces, rec, random_permutations(60, 200)) == 200


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_orders_pieces_cut_at_and_inside_element_headers(recordings, name, tmp_path):
    rec = recordings[name]
    cuts = element_cuts(rec)
    data = rec.data
    # Pieces of ~1 MiB, but with each interesting cut moved onto the structure.
    regular = [k for k in range(MIB, len(data), MIB) if all(abs(k - c) > 4096 for c in cuts.values())]
    pieces = write_pieces(data, [*regular, *cuts.values()], tmp_path)
    assert_orders(pieces, rec, random_permutations(len(pieces), 24))
    # And each cut alone, in every order of a few pieces around it.
    for label, cut in cuts.items():
        few = write_pieces(data, [cut, cut // 2, (cut + len(data)) // 2], tmp_path / label.replace(" ", "-"))
        assert_orders(few, rec, itertools.permutations(range(len(few))))


def test_it_honours_pinned_positions(recordings, tmp_path):
    rec = recordings["vp8-opus"]
    pieces = slice_every(rec.data, MIB, tmp_path)
    n = len(pieces)
    shuffled = [pieces[i] for i in (0, n - 1, 2, 1, *range(3, n - 1))]
    # Pins that agree with the bytes are kept (index 3 in `shuffled` is piece 1: position 1).
    order = order_pieces(shuffled, pinned={0: 0, 3: 1})
    assert [shuffled[i] for i in order] == pieces
    # A pin that contradicts the bytes leaves no consistent order, and says so.
    with pytest.raises(OrderUnknown, match="no order of the"):
        order_pieces(shuffled, pinned={0: 0, 3: 2})
    # Every position declared: returned exactly as declared, even if the bytes disagree.
    assert order_pieces(shuffled, pinned={i: (i + 1) % n for i in range(n)}) == [n - 1, *range(n - 1)]


def test_it_refuses_pins_that_clash(recordings, tmp_path):
    rec = recordings["vp8-opus"]
    pieces = slice_every(rec.data, MIB, tmp_path)
    names = [f"chunk {i}" for i in range(len(pieces))]
    with pytest.raises(OrderUnknown, match="chunk 1 and chunk 2 both declare position 1"):
        order_pieces(pieces, names=names, pinned={1: 1, 2: 1})
    with pytest.raises(OrderUnknown, match="chunk 1 declares position 99"):
        order_pieces(pieces, names=names, pinned={1: 99})
    with pytest.raises(OrderUnknown, match="chunk 2 is declared first but does not start"):
        order_pieces(pieces, names=names, pinned={2: 0})
    with pytest.raises(OrderUnknown, match="chunk 0 starts the recording but declares position 3"):
        order_pieces(pieces, names=names, pinned={0: 3})


def test_it_returns_a_single_piece_without_reading_it(tmp_path):
    lone = tmp_path / "lone"
    lone.write_bytes(b"not a video at all")
    assert order_pieces([lone]) == [0]
    missing = tmp_path / "never-written"
    assert order_pieces([missing]) == [0]  # not even opened
    assert order_pieces([]) == []


def test_it_refuses_random_bytes(tmp_path):
    rng = random.Random(SEED)
    pieces = write_pieces(rng.randbytes(3 * MIB), [MIB, 2 * MIB], tmp_path)
    with pytest.raises(OrderUnknown, match="none of the 3 pieces starts with a WebM/Matroska or MP4 header"):
        order_pieces(pieces)


def test_it_refuses_a_format_it_cannot_order(tmp_path):
    rng = random.Random(SEED)
    avi = b"RIFF" + struct.pack("<I", 3 * MIB) + b"AVI LIST" + rng.randbytes(3 * MIB)
    pieces = write_pieces(avi, [MIB, 2 * MIB], tmp_path)
    with pytest.raises(OrderUnknown, match="not one whose order can be recovered"):
        order_pieces(pieces)


@pytest.mark.parametrize("name", ["vp8-opus", "vp9", "mp4", "vp8-opus-timeslice"])
def test_it_refuses_a_recording_with_a_piece_missing(recordings, name, tmp_path):
    rec = recordings[name]
    pieces = slice_every(rec.data, MIB, tmp_path)
    for gone in (1, len(pieces) // 2, len(pieces) - 1):
        kept = [p for i, p in enumerate(pieces) if i != gone]
        names = [p.name for p in kept]
        with pytest.raises(OrderUnknown, match="no order of the") as caught:
            order_pieces(list(reversed(kept)), names=list(reversed(names)))
        assert "a piece is missing, extra, or from another recording" in str(caught.value)
        assert isinstance(caught.value, MediaRejected)


def test_it_refuses_pieces_of_two_recordings(recordings, tmp_path):
    one = slice_every(recordings["vp8-opus"].data, MIB, tmp_path / "one", "one")
    other = slice_every(recordings["vp8"].data, MIB, tmp_path / "other", "other")
    # One foreign piece among the right ones: it fits nowhere.
    with pytest.raises(OrderUnknown, match="no order of the"):
        order_pieces([*one, other[2]])
    # A foreign piece in place of a right one.
    with pytest.raises(OrderUnknown, match="no order of the"):
        order_pieces([*one[:2], other[2], *one[3:]])
    # Two headers: two recordings.
    with pytest.raises(OrderUnknown, match="one-000 and other-000 each start with a container header") as caught:
        order_pieces([*one, *other], names=[p.name for p in [*one, *other]])
    assert "more than one recording" in str(caught.value)


@pytest.mark.parametrize("name", ["vp8-opus", "mp4"])
def test_it_refuses_a_duplicated_piece(recordings, name, tmp_path):
    pieces = slice_every(recordings[name].data, MIB, tmp_path)
    copy = tmp_path / "copy-of-2"
    copy.write_bytes(pieces[2].read_bytes())
    with pytest.raises(OrderUnknown, match="no order of the"):
        order_pieces([*pieces, copy])


@pytest.mark.parametrize("name", ["vp9-opus", "mp4"])
def test_it_refuses_pieces_without_the_header_piece(recordings, name, tmp_path):
    pieces = slice_every(recordings[name].data, MIB, tmp_path)
    with pytest.raises(OrderUnknown, match=r"none of the .* pieces starts with .* header: the first piece is missing"):
        order_pieces(pieces[1:])


def test_it_refuses_an_empty_piece(recordings, tmp_path):
    pieces = slice_every(recordings["vp8-opus"].data, MIB, tmp_path)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(OrderUnknown, match="empty is empty"):
        order_pieces([*pieces, empty], names=[*(p.name for p in pieces), "empty"])


def _ebml(element: int, payload: bytes, *, unknown: bool = False) -> bytes:
    ident = element.to_bytes((element.bit_length() + 7) // 8, "big")
    size = b"\x01\xff\xff\xff\xff\xff\xff\xff" if unknown else (len(payload) | 1 << 56).to_bytes(8, "big")
    return ident + size + payload


def _webm(*cluster_children: bytes) -> bytes:
    """A minimal MediaRecorder-like WebM: header, unknown-size Segment and Cluster, one track."""
    header = _ebml(0x1A45DFA3, _ebml(0x4282, b"webm") + _ebml(0x42F7, b"\x01"))
    info = _ebml(0x1549A966, _ebml(0x2AD7B1, (1_000_000).to_bytes(3, "big")))
    tracks = _ebml(0x1654AE6B, _ebml(0xAE, _ebml(0xD7, b"\x01") + _ebml(0x83, b"\x01") + _ebml(0x86, b"V_VP8")))
    cluster = _ebml(0x1F43B675, _ebml(0xE7, b"\x00") + b"".join(cluster_children), unknown=True)
    return header + _ebml(0x18538067, info + tracks + cluster, unknown=True)


def _block(timecode: int, payload: bytes) -> bytes:
    return _ebml(0xA3, b"\x81" + struct.pack(">hB", timecode, 0x80) + payload)


def test_it_refuses_pieces_that_fit_in_two_orders(tmp_path):
    # A 600 kB block cut into 100 kB pieces: the pieces inside it carry no structure at all, so
    # any order of them parses. The media cannot say which is right: refuse, naming them.
    rng = random.Random(SEED)
    data = _webm(_block(0, rng.randbytes(600_000)), _block(33, rng.randbytes(5000)))
    pieces = slice_every(data, 100_000, tmp_path)
    names = [f"chunk {i}" for i in range(len(pieces))]
    with pytest.raises(OrderUnknown, match="cannot be proven") as caught:
        order_pieces(pieces[::-1], names=names[::-1])
    message = str(caught.value)
    assert "more than one order" in message
    # Those named as uncertain all lie inside the big block; the header and the tail are certain.
    uncertain = message.split("the order of ")[1].split(" cannot be proven")[0]
    assert set(uncertain.replace(" and ", ", ").split(", ")) <= {f"chunk {i}" for i in range(1, 6)}


def test_it_gives_up_when_its_budget_is_spent(recordings, tmp_path, monkeypatch):
    data = recordings["vp8-opus"].data
    pieces = slice_every(data, -(-len(data) // 60), tmp_path)
    monkeypatch.setattr("recordplus.assembler.ordering.MAX_SEARCH_STEPS", 500)
    with pytest.raises(OrderUnknown, match="gave up ordering 60 pieces after 500 steps"):
        order_pieces(pieces[::-1])


def test_it_checks_cluster_timecodes_across_pieces(tmp_path):
    # Two clusters whose pieces fit either way structurally; only time decides, and does.
    rng = random.Random(SEED)

    def cluster(timecode: int) -> bytes:
        blocks = b"".join(_block(k * 33, rng.randbytes(700)) for k in range(30))
        return _ebml(0x1F43B675, _ebml(0xE7, timecode.to_bytes(2, "big")) + blocks)

    head = _webm()[: -len(_ebml(0x1F43B675, _ebml(0xE7, b"\x00"), unknown=True))]
    clusters = [cluster(1000 * k) for k in range(4)]
    data = head + b"".join(clusters)
    cuts = [len(head)]
    for c in clusters[:-1]:
        cuts.append(cuts[-1] + len(c))
    pieces = write_pieces(data, cuts, tmp_path)
    for permutation in itertools.permutations(range(len(pieces))):
        shuffled = [pieces[i] for i in permutation]
        assert [permutation[i] for i in order_pieces(shuffled)] == list(range(len(pieces)))


def test_it_stays_bounded_on_millions_of_tiny_elements(tmp_path):
    # A valid header, then 3 million empty 2-byte Void elements in an unknown-size Segment.
    head = _webm()
    bomb = head + b"\xec\x80" * 3_000_000
    pieces = slice_every(bomb, MIB, tmp_path)
    with pytest.raises(OrderUnknown, match="denser than any recording"):
        order_pieces(pieces[::-1])
    tracemalloc.start()
    try:
        with pytest.raises(OrderUnknown):
            order_pieces(pieces[::-1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MIB, f"peak {peak} bytes"
