"""verify_whole: real recordings pass; truncated, shuffled, garbled, time-travelling or
mis-declared files fail with CorruptMedia saying why; a memory bomb fails within bounds."""

from __future__ import annotations

import struct
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.integrity import CorruptMedia, WholeReport, verify_whole

from tests.assembler.recordings import (
    CLUSTER_ID,
    RECORDING_NAMES,
    SECONDS,
    cluster_children,
    mp4_boxes,
    read_element,
    recordings_fixture,
    segment_children,
)

recordings = recordings_fixture  # the session fixture, made usable in this module
MIB = 1 << 20


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def corrupt(tmp_path: Path, data: bytes, match: str) -> CorruptMedia:
    with pytest.raises(CorruptMedia, match=match) as caught:
        verify_whole(write(tmp_path / "corrupt", data))
    assert isinstance(caught.value, MediaRejected)
    return caught.value


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_passes_real_recordings(recordings, name):
    rec = recordings[name]
    report = verify_whole(rec.path)
    assert report.checked
    assert report.container == ("mp4" if rec.is_mp4 else "webm")
    assert report.fragmented == rec.is_mp4
    assert report.elements > 100
    assert SECONDS - 1.5 < report.last_timestamp < SECONDS + 1
    if rec.timeslice and not rec.is_mp4:
        assert report.duration is None  # streamed WebM declares none: only the walk applies
    else:
        assert abs(report.duration - report.last_timestamp) < 0.5


def test_it_passes_files_other_muxers_write(mp4_moov_at_end, webm_live, webm_live_vp9, webm_no_audio,
                                            mkv_h264, m4a_file, media_dir):
    faststart = media_dir / "integrity-faststart.mp4"
    fragmented = media_dir / "integrity-fragmented.mp4"
    bframes = media_dir / "integrity-bframes.mkv"
    run = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run([*run, "-i", str(mp4_moov_at_end), "-c", "copy", "-movflags", "+faststart", str(faststart)],
                   check=True)
    subprocess.run([*run, "-i", str(mp4_moov_at_end), "-c", "copy", "-movflags",
                    "frag_keyframe+empty_moov+default_base_moof", str(fragmented)], check=True)
    # x264's default preset writes B-frames: block timestamps go back within a few frames.
    subprocess.run([*run, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-c:v", "libx264",
                    "-pix_fmt", "yuv420p", "-bf", "3", str(bframes)], check=True)
    expected = {mp4_moov_at_end: "mp4", faststart: "mp4", fragmented: "mp4", m4a_file: "mp4",
                webm_live: "webm", webm_live_vp9: "webm", webm_no_audio: "webm", mkv_h264: "matroska",
                bframes: "matroska"}
    for path, container in expected.items():
        report = verify_whole(path)
        assert (report.checked, report.container) == (True, container), path
        assert 3.5 < report.last_timestamp < 4.5, (path, report)


def test_it_does_not_check_other_formats(avi_file, garbage_file):
    assert verify_whole(avi_file) == WholeReport(
        container="avi", checked=False, elements=0, last_timestamp=None, duration=None,
        note="not checked: neither WebM/Matroska nor MP4")
    assert verify_whole(garbage_file).checked is False


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_rejects_a_truncated_file(recordings, name, tmp_path):
    data = recordings[name].data
    for keep in (len(data) * 3 // 5, len(data) - 1, 1000):
        corrupt(tmp_path, data[:keep], "not whole: .*(past the end|ends)")


def test_it_rejects_a_file_cut_exactly_between_elements(recordings, tmp_path):
    data = recordings["vp8-opus"].data
    last = [e for e in segment_children(data) if e.id == CLUSTER_ID][-1]
    corrupt(tmp_path, data[:last.offset], "Segment at byte 36 runs past the end")
    mp4 = recordings["mp4"].data
    moof = [offset for kind, offset, _ in mp4_boxes(mp4) if kind == b"moof"]
    # A fragmented MP4 cut between fragments parses; its declared duration gives it away.
    corrupt(tmp_path, mp4[:moof[len(moof) // 2]], r"declares \d+\.\d+ s but its media ends at")


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_rejects_pieces_stitched_in_the_wrong_order(recordings, name, tmp_path):
    # What the issue saw: the extension's 1 MiB pieces stored as 0,2,1,3... (ffmpeg made that
    # a 20 s video of a 26 s recording, or one whose seeks land on the wrong frame).
    data = recordings[name].data
    pieces = [data[k:k + MIB] for k in range(0, len(data), MIB)]
    for a, b in ((1, 2), (2, len(pieces) - 1)):
        swapped = list(pieces)
        swapped[a], swapped[b] = swapped[b], swapped[a]
        corrupt(tmp_path, b"".join(swapped), "not whole")


@pytest.mark.parametrize("name", RECORDING_NAMES)
def test_it_rejects_garbage_appended_or_inserted(recordings, name, tmp_path):
    data = recordings[name].data
    junk = bytes(range(256)) * 4
    corrupt(tmp_path, data + junk, "not whole")
    corrupt(tmp_path, data + b"\x00" * 64, "not whole")
    middle = len(data) // 2
    corrupt(tmp_path, data[:middle] + junk + data[middle:], "not whole")
    corrupt(tmp_path, data[:middle] + data[middle + 1000:], "not whole")  # bytes lost


def test_it_rejects_cluster_timecodes_going_backwards(recordings, tmp_path):
    data = recordings["vp8-opus-timeslice"].data  # Clusters of unknown size: swapping two still parses
    clusters = [e for e in segment_children(data) if e.id == CLUSTER_ID]
    assert len(clusters) >= 3
    a, b = clusters[1], clusters[2]
    swapped = data[:a.offset] + data[b.offset:b.body + b.size] + data[a.offset:a.body + a.size] + data[b.body + b.size:]
    corrupt(tmp_path, swapped, r"cluster timecodes go backwards at byte \d+ \(\d+\.\d+ s, then \d+\.\d+ s\)")


def test_it_rejects_block_timestamps_going_backwards(recordings, tmp_path):
    data = bytearray(recordings["vp8-opus"].data)
    cluster = next(e for e in segment_children(bytes(data)) if e.id == CLUSTER_ID)
    blocks = [c for c in cluster_children(bytes(data), cluster) if c.id == 0xA3]
    video = [b for b in blocks if data[b.body] == 0x81]
    block = video[20]
    # Rewrite one video block's relative timecode to land well before the block ahead of it.
    struct.pack_into(">h", data, block.body + 1, 0)
    corrupt(tmp_path, bytes(data), r"track 1's timestamps go backwards .*\(\d+\.\d+ s, then 0\.000 s\)")


def test_it_rejects_a_declared_duration_the_media_does_not_have(recordings, tmp_path):
    data = bytearray(recordings["vp8-opus"].data)
    info = next(e for e in segment_children(bytes(data)) if e.id == 0x1549A966)
    at = info.body
    while read_element(bytes(data), at).id != 0x4489:
        at += read_element(bytes(data), at).head + read_element(bytes(data), at).size
    duration = read_element(bytes(data), at)
    scale_ms = 1.0  # TimestampScale is 1 ms in MediaRecorder's files
    struct.pack_into(">f" if duration.size == 4 else ">d", data, duration.body, 26_000 * scale_ms)
    corrupt(tmp_path, bytes(data), r"declares 26\.00 s but its media ends at \d\.\d\d s")

    mp4 = bytearray(recordings["mp4"].data)
    moov = next(offset for kind, offset, _ in mp4_boxes(bytes(mp4)) if kind == b"moov")
    mvhd = moov + 8
    assert mp4[mvhd + 4:mvhd + 8] == b"mvhd"
    version = mp4[mvhd + 8]
    timescale_at, duration_at = (mvhd + 28, mvhd + 32) if version == 1 else (mvhd + 20, mvhd + 24)
    timescale = int.from_bytes(mp4[timescale_at:timescale_at + 4], "big")
    if version == 1:
        struct.pack_into(">Q", mp4, duration_at, 26 * timescale)
    else:
        struct.pack_into(">I", mp4, duration_at, 26 * timescale)
    corrupt(tmp_path, bytes(mp4), r"declares 26\.00 s but its media ends at")


def test_it_rejects_mp4_fragments_out_of_order(recordings, tmp_path):
    data = recordings["mp4"].data
    boxes = mp4_boxes(data)
    moofs = [i for i, (kind, _, _) in enumerate(boxes) if kind == b"moof"]
    first, second = moofs[1], moofs[2]  # each moof is followed by its mdat

    def pair(i: int) -> bytes:
        return data[boxes[i][1]:boxes[i + 1][1] + boxes[i + 1][2]]

    start, end = boxes[first][1], boxes[second + 1][1] + boxes[second + 1][2]
    swapped = data[:start] + pair(second) + pair(first) + data[end:]
    corrupt(tmp_path, swapped, r"fragment sequence numbers go backwards at byte \d+ \(\d+, then \d+\)")


def test_it_rejects_mp4_samples_that_are_not_what_the_fragment_says(recordings, tmp_path):
    data = bytearray(recordings["mp4"].data)
    boxes = mp4_boxes(bytes(data))
    mdat = [offset for kind, offset, _ in boxes if kind == b"mdat"][3]
    data[mdat + 8:mdat + 12] = b"\xff\xff\xff\xff"  # the first NAL unit's length prefix
    corrupt(tmp_path, bytes(data), "sample data at byte .* is not the H.264/HEVC frame")


def test_it_stays_bounded_on_millions_of_tiny_elements(tmp_path):
    # A valid small WebM header and an unknown-size Segment, then 3 million empty Voids (6 MB).
    header = bytes.fromhex("1a45dfa3 8c 4282 84 7765626d 42f7 81 01".replace(" ", ""))
    header = bytes.fromhex("1a45dfa3") + bytes([0x80 | (len(header) - 5)]) + header[5:]
    bomb = header + bytes.fromhex("18538067 01ffffffffffffff") + b"\xec\x80" * 3_000_000
    path = write(tmp_path / "bomb.webm", bomb)
    # The density rule stops it after some 23,000 elements (not the 3 million that are there).
    with pytest.raises(CorruptMedia, match=r"cannot be checked: .*denser than any recording"):
        verify_whole(path)
    tracemalloc.start()
    try:
        with pytest.raises(CorruptMedia):
            verify_whole(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * MIB, f"peak {peak} bytes for a {len(bomb)}-byte file"
