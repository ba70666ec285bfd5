"""The incremental WebM walk: piece 0's init segment, then blocks out of whatever pieces follow.

Bugs it catches: a block cut between two pieces lost or read twice; the end of an unknown-size
Cluster (Chromium's layout) not noticed, so the next Cluster's Timecode is read as a child; the
cursor not surviving its JSON round trip between steps (a restart resumes elsewhere); video
blocks read into memory; a stream without an audio track (or not WebM) followed anyway.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from recordplus.assembler.live_webm import (
    AudioBlock,
    LiveStreamError,
    WebmCursor,
    WebmReader,
    audio_webm,
)

from tests.assembler.recordings import RECORDING_NAMES, recordings_fixture  # noqa: F401 - the fixture
from tests.live.media import audio_packets


def walk_in_pieces(data: bytes, cuts: list[int]) -> tuple[list[AudioBlock], WebmCursor, int]:
    """Feed `data` cut at `cuts` as an uploader would, the cursor stored as JSON between steps;
    (blocks, final cursor, the most bytes any step was handed)."""
    cursor = WebmCursor()
    blocks: list[AudioBlock] = []
    received = 0
    largest = 0
    for end in [*cuts, len(data)]:
        received = end
        cursor = WebmCursor.from_json(json.loads(json.dumps(cursor.to_json())))
        piece = data[cursor.offset : received] if cursor.offset < received else b""
        largest = max(largest, len(piece))
        result = WebmReader(cursor).walk(piece, at_end=received == len(data))
        blocks.extend(result.blocks)
    return blocks, cursor, largest


def test_it_reads_every_audio_block_of_a_live_layout_stream(live_webm: Path) -> None:
    data = live_webm.read_bytes()
    whole, cursor, _ = walk_in_pieces(data, [])
    assert cursor.done and cursor.ready and cursor.codec == "A_OPUS"
    assert len(whole) == audio_packets(live_webm)
    ticks = [b.ticks for b in whole]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)


def test_it_gives_the_same_blocks_whatever_the_piece_boundaries(live_webm: Path, plain_webm: Path) -> None:
    for path in (live_webm, plain_webm):
        data = path.read_bytes()
        whole, _, _ = walk_in_pieces(data, [])
        rng = random.Random(7)
        for _ in range(3):
            cuts = sorted(rng.sample(range(1, len(data)), 40))
            pieces, cursor, _ = walk_in_pieces(data, cuts)
            assert cursor.done
            assert [(b.ticks, b.data) for b in pieces] == [(b.ticks, b.data) for b in whole], path.name
        # One-byte steps through the header: the init segment is read whatever cuts it.
        pieces, _, _ = walk_in_pieces(data, list(range(1, 600)) + [len(data) // 2])
        assert [(b.ticks, b.data) for b in pieces] == [(b.ticks, b.data) for b in whole]


def test_it_waits_for_the_rest_of_a_cut_audio_block(live_webm: Path) -> None:
    data = live_webm.read_bytes()
    whole, cursor, _ = walk_in_pieces(data, [])
    # Cut in the middle of an audio block: the first step must stop before it, not take half.
    n = next(i for i, b in enumerate(whole) if len(b.data) > 40 and data.count(b.data) == 1)
    block = data.find(whole[n].data)
    cut = block + len(whole[n].data) // 2
    cursor = WebmCursor()
    first = WebmReader(cursor).walk(data[:cut])
    assert [b.ticks for b in first.blocks] == [b.ticks for b in whole[:n]]
    assert cursor.offset < block  # stopped at the block's element, to read it whole next time
    second = WebmReader(cursor).walk(data[cursor.offset : cut + 2000])
    assert second.blocks[0].data == whole[n].data


def test_it_skips_video_blocks_without_reading_them(live_webm: Path) -> None:
    data = live_webm.read_bytes()
    cursor = WebmCursor()
    handed = 0
    while not cursor.done:
        piece = data[cursor.offset : cursor.offset + 3000]
        handed += len(piece)
        WebmReader(cursor).walk(piece, at_end=cursor.offset + 3000 >= len(data))
    # Video frames are skipped by their sizes: the walk was handed far less than the file.
    assert handed < len(data) * 0.8


def test_it_reads_chromium_mediarecorder_recordings(recordings: dict) -> None:
    for name in ("vp8-opus-timeslice", "vp8-opus", "vp9-opus"):
        recording = recordings[name]
        data = recording.data
        whole, cursor, _ = walk_in_pieces(data, [])
        assert cursor.ready and cursor.codec == "A_OPUS", name
        assert len(whole) == audio_packets(recording.path), name
        step = max(len(data) // 37, 1)
        pieces, _, _ = walk_in_pieces(data, list(range(step, len(data), step)))
        assert [(b.ticks, b.data) for b in pieces] == [(b.ticks, b.data) for b in whole], name


def test_it_refuses_a_stream_it_cannot_follow(tmp_path: Path, recordings: dict) -> None:
    with pytest.raises(LiveStreamError, match="no audio track"):
        WebmReader(WebmCursor()).walk(recordings["vp8"].data, at_end=True)
    with pytest.raises(LiveStreamError, match="not a WebM"):
        WebmReader(WebmCursor()).walk(recordings["mp4"].data[:4096])


def test_its_audio_only_webm_decodes_to_the_blocks_times(live_webm: Path, tmp_path: Path) -> None:
    import subprocess

    whole, cursor, _ = walk_in_pieces(live_webm.read_bytes(), [])
    middle = [b for b in whole if 40_000 >= b.ticks * cursor.timecode_scale / 1e6 >= 5_000]
    out = tmp_path / "part.webm"
    out.write_bytes(audio_webm(cursor, middle))
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name:packet=pts_time", "-of", "json",
         str(out)], check=True, capture_output=True, text=True).stdout)  # fmt: skip
    assert [s["codec_type"] for s in probe["streams"]] == ["audio"]
    times = [float(p["pts_time"]) for p in probe["packets"]]
    assert len(times) == len(middle)
    assert times[0] == pytest.approx(cursor.seconds(middle[0].ticks), abs=0.01)
    assert times[-1] == pytest.approx(cursor.seconds(middle[-1].ticks), abs=0.01)
