"""Probing: typed facts from ffprobe, the format judged by content, clear reasons on rejection."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.probe import probe, require_video


def test_it_reads_the_facts_of_an_mp4(mp4_moov_at_end: Path) -> None:
    facts = probe(mp4_moov_at_end)
    assert facts.container == "mp4"
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    assert (facts.width, facts.height) == (320, 240)
    assert facts.frame_rate == 25.0
    assert facts.duration is not None and abs(facts.duration - 4.0) < 0.1
    assert facts.has_audio and facts.has_video
    assert facts.size == mp4_moov_at_end.stat().st_size


def test_it_reads_the_facts_of_an_avi(avi_file: Path) -> None:
    facts = probe(avi_file)
    assert (facts.container, facts.video_codec, facts.audio_codec) == ("avi", "mpeg4", "mp3")


def test_it_reads_a_webm_without_audio(webm_no_audio: Path) -> None:
    facts = probe(webm_no_audio)
    assert (facts.container, facts.video_codec, facts.has_audio, facts.audio_codec) == ("webm", "vp8", False, None)


def test_it_reads_a_live_webm_without_duration(webm_live: Path) -> None:
    facts = probe(webm_live)
    assert (facts.container, facts.video_codec, facts.audio_codec) == ("webm", "vp8", "opus")
    assert facts.duration is None


def test_it_judges_the_format_by_content_not_name(webm_no_audio: Path, tmp_path: Path) -> None:
    misnamed = tmp_path / "clip.mp4"
    shutil.copyfile(webm_no_audio, misnamed)
    assert probe(misnamed).container == "webm"


def test_it_rejects_random_bytes(garbage_file: Path) -> None:
    with pytest.raises(MediaRejected, match="MP4, WebM or AVI"):
        require_video(probe(garbage_file))


def test_it_rejects_an_mp4_without_moov(truncated_mp4: Path) -> None:
    with pytest.raises(MediaRejected) as caught:
        probe(truncated_mp4)
    message = str(caught.value)
    assert "incomplete" in message and "moov" in message
    assert str(truncated_mp4) not in message  # no server paths in what users read


def test_it_rejects_audio_only_files(m4a_file: Path) -> None:
    with pytest.raises(MediaRejected, match="no video track"):
        require_video(probe(m4a_file))


def test_it_rejects_an_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    with pytest.raises(MediaRejected, match="empty"):
        probe(empty)
