"""Thumbnails: a JPEG of a frame a little into the video, never the black first frame."""

from __future__ import annotations

import subprocess
from pathlib import Path

from recordplus.assembler.probe import probe
from recordplus.assembler.renditions import make_thumbnail


def _luma_spread(jpeg: Path) -> int:
    pixels = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(jpeg), "-vf", "scale=32:32,format=gray", "-f", "rawvideo", "-"],
        check=True, capture_output=True,
    ).stdout
    return max(pixels) - min(pixels)


def test_it_writes_a_jpeg(webm_no_audio: Path, tmp_path: Path) -> None:
    thumbnail = make_thumbnail(webm_no_audio, tmp_path / "thumbnail.jpg", duration=4.0)
    assert thumbnail is not None
    assert thumbnail.read_bytes()[:3] == b"\xff\xd8\xff"
    facts = probe(thumbnail)
    assert (facts.width, facts.height) == (320, 240)


def test_it_skips_a_black_opening(mp4_moov_at_end: Path, tmp_path: Path) -> None:
    # The sample is black for its first 1.5 s; the default 1 s point lands in the black.
    thumbnail = make_thumbnail(mp4_moov_at_end, tmp_path / "thumbnail.jpg", duration=4.0, at_seconds=1.0)
    assert thumbnail is not None
    assert _luma_spread(thumbnail) > 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thumbnail.jpg"]  # no leftovers


def test_it_works_without_a_known_duration(webm_live: Path, tmp_path: Path) -> None:
    assert make_thumbnail(webm_live, tmp_path / "thumbnail.jpg", duration=None) is not None
