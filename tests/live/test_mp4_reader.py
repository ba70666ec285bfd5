"""The incremental fragmented-MP4 walk: piece 0's ftyp/moov, then audio samples out of the
moof/mdat fragments of whatever pieces follow, on real Chromium MediaRecorder MP4 recordings.

Bugs it catches: an MP4 upload not followed live at all (only WebM was: the whole recording
waited for assembly); a sample or a box cut between two pieces lost or read twice; the cursor
not surviving its JSON round trip (a restart resumes elsewhere) or old cursors no longer
loading; data offsets taken from the wrong base (default-base-is-moof, base-data-offset); the
audio track or its timescale mixed up with video's; a synthesized TrackEntry ffmpeg decodes
wrongly (wrong OpusHead, AudioSpecificConfig, pre-skip: audio off the video's timeline); video
samples read into memory; hostile boxes (size 0, absurd sizes, a trun claiming billions of
samples) followed into a hang or a huge allocation instead of refused.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from recordplus.assembler.live_audio import SAMPLE_RATE, decode_step, frame_levels
from recordplus.assembler.live_mp4 import Mp4Reader, stream_reader
from recordplus.assembler.live_webm import (
    AudioBlock,
    LiveStreamError,
    WebmCursor,
    WebmReader,
    audio_webm,
)

from tests.assembler.recordings import RECORDING_NAMES, recordings_fixture  # noqa: F401 - the fixture
from tests.live.media import CHROMIUM_MP4, audio_packets, fmp4_of, mp4_boxes, whole_pcm


@pytest.fixture(scope="module", params=sorted(CHROMIUM_MP4))
def chromium_mp4(request: pytest.FixtureRequest) -> Path:
    return CHROMIUM_MP4[request.param]


@pytest.fixture(scope="session")
def ffmpeg_aac(live_media: Path, short_speech: Path) -> Path:
    return fmp4_of(short_speech, live_media / "short-aac.mp4", audio="aac")


@pytest.fixture(scope="session")
def ffmpeg_opus(live_media: Path, short_speech: Path) -> Path:
    return fmp4_of(short_speech, live_media / "short-opus.mp4", audio="opus")


def walk_in_pieces(data: bytes, cuts: list[int]) -> tuple[list[AudioBlock], WebmCursor]:
    """Feed `data` cut at `cuts` as an uploader would (the reader picked by the dispatch the
    decoder uses), the cursor stored as JSON between steps."""
    cursor = WebmCursor()
    blocks: list[AudioBlock] = []
    for end in [*cuts, len(data)]:
        cursor = WebmCursor.from_json(json.loads(json.dumps(cursor.to_json())))
        piece = data[cursor.offset : end] if cursor.offset < end else b""
        blocks.extend(stream_reader(cursor, piece).walk(piece, at_end=end == len(data)).blocks)
    return blocks, cursor


def pairs(blocks: list[AudioBlock]) -> list[tuple[int, bytes]]:
    return [(b.ticks, b.data) for b in blocks]


def test_it_reads_every_audio_sample_of_a_chromium_mp4_recording(chromium_mp4: Path) -> None:
    data = chromium_mp4.read_bytes()
    blocks, cursor = walk_in_pieces(data, [])
    assert cursor.container == "mp4" and cursor.ready and cursor.codec == "A_OPUS" and cursor.done
    assert cursor.mp4_timescale == 48_000
    assert len(blocks) == audio_packets(chromium_mp4)
    ticks = [b.ticks for b in blocks]
    assert ticks[0] == 0 and ticks == sorted(ticks) and len(set(ticks)) == len(ticks)
    # The samples are the Opus packets ffprobe sees, byte for byte, at its times.
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "packet=pts_time,size", "-of", "json",
         str(chromium_mp4)], check=True, capture_output=True, text=True, timeout=60).stdout)["packets"]  # fmt: skip
    assert [len(b.data) for b in blocks] == [int(p["size"]) for p in probe]
    assert [cursor.seconds(b.ticks) for b in blocks] == pytest.approx([float(p["pts_time"]) for p in probe], abs=0.001)


def test_it_gives_the_same_blocks_whatever_the_piece_boundaries(chromium_mp4: Path) -> None:
    data = chromium_mp4.read_bytes()
    whole, _ = walk_in_pieces(data, [])
    boxes = mp4_boxes(data)
    assert [kind for kind, _, _ in boxes[:3]] == [b"ftyp", b"moov", b"moof"]
    # MediaRecorder's pieces: the init segment, then whole fragments; cut at every box boundary.
    pieces, cursor = walk_in_pieces(data, [offset for _, offset, _ in boxes[1:]])
    assert cursor.done and pairs(pieces) == pairs(whole)
    rng = random.Random(11)
    for _ in range(4):  # arbitrary byte boundaries: inside boxes, headers, samples
        pieces, cursor = walk_in_pieces(data, sorted(rng.sample(range(1, len(data)), 60)))
        assert cursor.done and pairs(pieces) == pairs(whole)
    # One-byte steps through the init segment and the first fragment's moof.
    first_mdat = next(offset for kind, offset, _ in boxes if kind == b"mdat")
    pieces, _ = walk_in_pieces(data, list(range(1, first_mdat + 40)))
    assert pairs(pieces) == pairs(whole)


def test_it_follows_ffmpeg_fragmented_mp4_with_aac_and_opus(ffmpeg_aac: Path, ffmpeg_opus: Path) -> None:
    """Defaults from tfhd (sample size and duration), interleaved data offsets, and AAC's
    esds → AudioSpecificConfig: the layouts Chromium does not write."""
    for path, codec in ((ffmpeg_aac, "A_AAC"), (ffmpeg_opus, "A_OPUS")):
        data = path.read_bytes()
        whole, cursor = walk_in_pieces(data, [])
        assert cursor.codec == codec and len(whole) == audio_packets(path), path.name
        cuts = sorted(random.Random(3).sample(range(1, len(data)), 80))
        pieces, _ = walk_in_pieces(data, cuts)
        assert pairs(pieces) == pairs(whole), path.name


def test_it_waits_for_the_rest_of_a_cut_sample_or_box(chromium_mp4: Path) -> None:
    data = chromium_mp4.read_bytes()
    whole, _ = walk_in_pieces(data, [])
    n = next(i for i, b in enumerate(whole) if i > 20 and len(b.data) > 40 and data.count(b.data) == 1)
    at = data.find(whole[n].data)
    cursor = WebmCursor()
    first = stream_reader(cursor, data).walk(data[: at + len(whole[n].data) // 2])
    assert pairs(first.blocks) == pairs(whole[:n])
    assert cursor.offset == at  # stopped at the cut sample, to read it whole next time
    second = Mp4Reader(cursor).walk(data[cursor.offset :], at_end=True)
    assert pairs(second.blocks) == pairs(whole[n:])
    # A moof cut in its middle is not read until it is whole.
    moof = [offset for kind, offset, _ in mp4_boxes(data) if kind == b"moof"][2]
    cursor = WebmCursor()
    before = stream_reader(cursor, data).walk(data[: moof + 100])
    assert cursor.offset == moof and not cursor.mp4_pending
    rest = Mp4Reader(cursor).walk(data[moof:], at_end=True)
    assert pairs(before.blocks + rest.blocks) == pairs(whole)


def test_it_skips_video_samples_without_reading_them(recordings: dict) -> None:
    """Chromium's `mp4` recording of the shared set: 4 s of a busy 60 fps canvas at 16 Mbit/s,
    recorded with start() (fragments at key frames). Handed 3000 bytes at a time from wherever
    the cursor stands, the walk jumps over video and is handed a fraction of the file."""
    recording = recordings["mp4"]
    data = recording.data
    assert data[4:8] == b"ftyp", recording.recorder_mime_type
    whole, cursor = walk_in_pieces(data, [])
    assert cursor.ready and len(whole) == audio_packets(recording.path)
    cursor = WebmCursor()
    handed, blocks = 0, []
    for _ in range(100_000):
        if cursor.done:
            break
        piece = data[cursor.offset : cursor.offset + 3000]
        handed += len(piece)
        blocks += stream_reader(cursor, piece).walk(piece, at_end=cursor.offset + 3000 >= len(data)).blocks
    assert pairs(blocks) == pairs(whole)
    assert handed < len(data) * 0.3, (handed, len(data))


def live_timeline(data: bytes, cuts: list[int], workdir: Path) -> np.ndarray:
    """The PCM the live decoder builds from `data` received in pieces cut at `cuts` (the decode
    step's path: audio_webm of the synthesized TrackEntry, then ffmpeg)."""
    cursor = WebmCursor()
    held, priming, decoded, parts = None, [], 0, []
    for end in [*cuts, len(data)]:
        ended = end == len(data)
        piece = data[cursor.offset : end] if cursor.offset < end else b""
        walked = stream_reader(cursor, piece).walk(piece, at_end=ended)
        step = decode_step(cursor, held=held, priming=priming, blocks=walked.blocks, decoded=decoded, ended=ended,
                           workdir=workdir)  # fmt: skip
        held, priming, decoded = step.held, step.priming, step.decoded
        parts.append(step.pcm)
    return np.concatenate(parts)


@pytest.mark.parametrize("source", ["chromium-avc1-opus", "chromium-vp9-opus", "ffmpeg-aac", "ffmpeg-opus"])
def test_its_step_decoded_audio_matches_ffmpegs_decode_of_the_whole_file(
    source: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if source.startswith("chromium"):
        path = CHROMIUM_MP4[source.removeprefix("chromium-")]
    else:
        path = request.getfixturevalue(source.replace("-", "_"))
    data = path.read_bytes()
    whole = np.frombuffer(whole_pcm(path), dtype="<i2")
    cuts = [offset for kind, offset, _ in mp4_boxes(data) if kind == b"moof"][1:]  # a step per fragment
    live = live_timeline(data, cuts, tmp_path)
    seconds = len(whole) / SAMPLE_RATE
    # Same length: within 30 ms (the last frame) plus 0.5 % (Chromium's audio timestamps run
    # about 0.2 % ahead of its sample count; the live path places audio at the timestamps, the
    # whole-file decode lays the samples end to end).
    assert abs(len(live) - len(whole)) <= (0.03 + 0.005 * seconds) * SAMPLE_RATE, (len(live), len(whole))
    # Same sound at the same times: the 20 ms loudness envelopes line up (within 2 frames) and
    # agree frame by frame (a wrong codec config is noise or silence, a wrong timescale
    # stretches, a lost or doubled sample shifts everything after it).
    ours, theirs = frame_levels(live), frame_levels(whole)
    n = min(len(ours), len(theirs)) - 4
    lags = {lag: float(np.corrcoef(ours[2 + lag : 2 + lag + n], theirs[2 : 2 + n])[0, 1]) for lag in range(-2, 3)}
    lag = max(lags, key=lags.__getitem__)
    assert lags[lag] > 0.95, lags
    loud = theirs[2 : 2 + n] > -45
    diff = np.abs(ours[2 + lag : 2 + lag + n] - theirs[2 : 2 + n])[loud]
    print(f"{source}: {len(live)} vs {len(whole)} samples, envelope lag {lag} frames, r={lags[lag]:.4f}, "
          f"median {np.median(diff):.2f} dB, p95 {np.percentile(diff, 95):.2f} dB over {loud.sum()} loud frames")
    assert loud.sum() > 0.3 * n and np.median(diff) < 1.5 and np.percentile(diff, 95) < 10, (np.median(diff), np.percentile(diff, 95))


def test_its_audio_only_webm_keeps_the_samples_times(chromium_mp4: Path, tmp_path: Path) -> None:
    whole, cursor = walk_in_pieces(chromium_mp4.read_bytes(), [])
    middle = [b for b in whole if 1_000 <= b.ticks <= 5_000]
    out = tmp_path / "part.webm"
    out.write_bytes(audio_webm(cursor, middle))
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,channels:packet=pts_time", "-of", "json",
         str(out)], check=True, capture_output=True, text=True, timeout=60).stdout)  # fmt: skip
    assert [s["codec_name"] for s in probe["streams"]] == ["opus"]
    times = [float(p["pts_time"]) for p in probe["packets"]]
    # Matroska times shift by CodecDelay (the pre-skip): the sound plays that much earlier.
    shifted = [cursor.seconds(b.ticks) - cursor.codec_delay_ns / 1e9 for b in middle]
    assert times == pytest.approx(shifted, abs=0.002)


def test_it_dispatches_on_the_first_bytes_and_loads_old_cursors(chromium_mp4: Path, live_webm: Path) -> None:
    assert isinstance(stream_reader(WebmCursor(), live_webm.read_bytes()[:64]), WebmReader)
    cursor = WebmCursor()
    assert isinstance(stream_reader(cursor, chromium_mp4.read_bytes()[:64]), Mp4Reader)
    assert cursor.container == "mp4"
    # Past the first bytes the cursor remembers; a cursor saved before MP4 support loads as WebM.
    moved = WebmCursor.from_json({**cursor.to_json(), "offset": 5000})
    assert isinstance(stream_reader(moved, b"\x1a\x45\xdf\xa3" + bytes(60)), Mp4Reader)
    old = {"offset": 10, "in_segment": True, "segment_end": -1, "cluster_end": None, "cluster_ticks": 0,
           "timecode_scale": 1_000_000, "audio_track": 2, "track_entry": "", "codec": "A_OPUS",
           "codec_delay_ns": 6_500_000, "seen_tracks": True, "done": False}  # fmt: skip
    loaded = WebmCursor.from_json(old)
    assert loaded.container == "webm" and loaded.mp4_pending == [] and loaded.audio_track == 2
    assert isinstance(stream_reader(loaded, b"\x00\x00\x00\x20ftyp"), WebmReader)


# --- hostile and unfollowable streams (handwritten boxes) -------------------------------------


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


FTYP = box(b"ftyp", b"isom\x00\x00\x02\x00isomiso6mp41")


def video_trak(track_id: int) -> bytes:
    tkhd = full(b"tkhd", bytes(8) + struct.pack(">I", track_id) + bytes(68))
    mdhd = full(b"mdhd", bytes(8) + struct.pack(">I", 30000) + bytes(8))
    hdlr = full(b"hdlr", bytes(4) + b"vide" + bytes(13))
    return box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + box(b"minf", box(b"stbl", full(b"stsd", struct.pack(">I", 0))))))


def parts_of(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Offset and size of the first top-level box of each type."""
    out: dict[bytes, tuple[int, int]] = {}
    for kind, offset, size in mp4_boxes(data):
        out.setdefault(kind, (offset, size))
    return out


def refuse(data: bytes, match: str) -> None:
    """The walk refuses `data` quickly, holding little memory whatever sizes the boxes claim."""
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(LiveStreamError, match=match):
            cursor = WebmCursor()
            stream_reader(cursor, data).walk(data, at_end=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.process_time() - started < 5
    assert peak < len(data) * 3 + (4 << 20), peak


def test_it_refuses_boxes_whose_sizes_make_no_sense() -> None:
    refuse(FTYP + struct.pack(">I4s", 0, b"moov") + bytes(100), "size 0")
    refuse(FTYP + struct.pack(">I4s", 4, b"free") + bytes(100), "box of 4 bytes")
    refuse(FTYP + struct.pack(">I4sQ", 1, b"moov", 1 << 40) + bytes(100), "box of")
    refuse(FTYP + struct.pack(">I4s", 5 << 20, b"moov") + bytes(100), "moov box of")
    refuse(FTYP + struct.pack(">I4sQ", 1, b"mdat", 1 << 62) + bytes(100), "box of")
    refuse(FTYP + b"\x00\x00\x00\x10\x01\x02\x03\x04" + bytes(8), "not an MP4 box")


def test_it_refuses_what_it_cannot_follow(chromium_mp4: Path) -> None:
    data = chromium_mp4.read_bytes()
    where = parts_of(data)
    moov_at, moov_size = where[b"moov"]
    moov = data[moov_at : moov_at + moov_size]
    # A classic MP4: mdat before moov (the whole file must be there to read it).
    refuse(FTYP + box(b"mdat", bytes(5000)) + moov, "mdat before the moov")
    # moov first but not fragmented (no mvex): its samples are in stbl, not in fragments.
    refuse(FTYP + box(b"moov", video_trak(1)) + box(b"mdat", bytes(100)), "no mvex")
    # Video only.
    refuse(FTYP + box(b"moov", video_trak(1) + box(b"mvex", full(b"trex", bytes(20)))) + box(b"mdat", bytes(10)), "no audio track")
    # An audio codec the decode step does not handle.
    refuse(data.replace(b"Opus", b"fLaC", 1), "fLaC is not followed live")
    # Not an MP4 at all once dispatched as one.
    with pytest.raises(LiveStreamError, match="not an MP4"):
        Mp4Reader(WebmCursor()).walk(b"\x1a\x45\xdf\xa3" + bytes(60))


def test_it_refuses_a_trun_claiming_huge_sample_counts(chromium_mp4: Path) -> None:
    data = bytearray(chromium_mp4.read_bytes())
    moof_at, _ = parts_of(bytes(data))[b"moof"]
    # Every trun of the first fragment claims 4 billion samples (the audio one among them).
    at = moof_at
    while (at := data.find(b"trun", at + 1)) != -1 and at < moof_at + 1000:
        data[at + 8 : at + 12] = struct.pack(">I", 0xFFFFFFFF)
    refuse(bytes(data), "more than .* audio samples")
    # Fewer, but more than the box holds.
    data = bytearray(chromium_mp4.read_bytes())
    at = moof_at
    while (at := data.find(b"trun", at + 1)) != -1 and at < moof_at + 1000:
        data[at + 8 : at + 12] = struct.pack(">I", 60_000)
    refuse(bytes(data), "holds fewer")


def test_it_refuses_samples_outside_their_mdat(chromium_mp4: Path) -> None:
    data = bytearray(chromium_mp4.read_bytes())
    where = parts_of(bytes(data))
    mdat_at, mdat_size = where[b"mdat"]
    # The first mdat shrunk to its header: the samples the moof announced are not inside it.
    data[mdat_at : mdat_at + 4] = struct.pack(">I", 8)
    data[mdat_at + 8 : mdat_at + mdat_size] = box(b"free", bytes(mdat_size - 16))
    refuse(bytes(data), "outside its mdat")


def test_it_survives_damaged_headers(chromium_mp4: Path) -> None:
    """Random bytes changed in the init segment and the first fragment's moof: every walk
    either reads on or refuses with LiveStreamError (never another exception, which would be
    retried forever as if the failure were transient), and never hangs."""
    data = chromium_mp4.read_bytes()
    first_mdat = next(offset for kind, offset, _ in mp4_boxes(data) if kind == b"mdat")
    rng = random.Random(5)
    refused = 0
    for _ in range(300):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            damaged[rng.randrange(0, first_mdat)] = rng.randrange(256)
        try:
            walk_in_pieces(bytes(damaged), [rng.randrange(1, len(data))])
        except LiveStreamError:
            refused += 1
    assert refused > 0
