"""Reading where MP4 boxes and WebM elements sit, the facts browsers' seeking depends on."""

from __future__ import annotations

from pathlib import Path

from recordplus.assembler.layout import matroska_layout, mp4_boxes, mp4_is_faststart


def test_it_sees_moov_after_mdat(mp4_moov_at_end: Path) -> None:
    kinds = [box.type for box in mp4_boxes(mp4_moov_at_end)]
    assert kinds.index("mdat") < kinds.index("moov")
    assert not mp4_is_faststart(mp4_moov_at_end)


def test_it_sees_a_live_webm_has_no_duration_and_no_cues(webm_live: Path) -> None:
    layout = matroska_layout(webm_live)
    assert layout.doctype == "webm"
    assert layout.duration is None
    assert not layout.has_cues
    assert "Cluster" in layout.elements


def test_it_reads_the_duration_of_a_finished_webm(webm_no_audio: Path) -> None:
    layout = matroska_layout(webm_no_audio)
    assert layout.duration is not None and abs(layout.duration - 4.0) < 0.1


def test_it_tells_matroska_from_webm(mkv_h264: Path) -> None:
    assert matroska_layout(mkv_h264).doctype == "matroska"


def test_it_handles_bytes_that_are_neither(garbage_file: Path) -> None:
    assert matroska_layout(garbage_file).doctype is None
    assert mp4_boxes(garbage_file) == []
