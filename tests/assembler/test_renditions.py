"""Renditions: each upload becomes a file browsers play and seek, re-encoding only when needed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from recordplus.assembler.layout import matroska_layout, mp4_is_faststart
from recordplus.assembler.probe import MediaFacts, probe
from recordplus.assembler.renditions import make_rendition, plan_rendition

BASE = MediaFacts(
    container="webm", format_name="matroska,webm", video_codec="vp8", pix_fmt="yuv420p",
    audio_codec="opus", audio_channels=1, duration=4.0, width=320, height=240, frame_rate=25.0,
    has_video=True, has_audio=True, size=1000,
)


@pytest.mark.parametrize(
    ("changes", "kind", "audio"),
    [
        ({}, "remux_webm", "copy"),
        ({"video_codec": "vp9"}, "remux_webm", "copy"),
        ({"audio_codec": None, "has_audio": False}, "remux_webm", "none"),
        ({"container": "matroska", "video_codec": "h264"}, "faststart_mp4", "aac"),
        ({"container": "mp4", "video_codec": "h264", "audio_codec": "aac"}, "faststart_mp4", "copy"),
        ({"container": "mp4", "video_codec": "h264", "audio_codec": "mp3"}, "faststart_mp4", "aac"),
        ({"container": "mp4", "video_codec": "h264", "pix_fmt": "yuv420p10le"}, "transcode_mp4", "aac"),
        ({"container": "mp4", "video_codec": "hevc", "audio_codec": "aac"}, "transcode_mp4", "aac"),
        # Chromium's MediaRecorder in MP4 mode: VP9/Opus copied into WebM, not transcoded.
        ({"container": "mp4", "video_codec": "vp9"}, "remux_webm", "copy"),
        ({"container": "mp4", "video_codec": "vp9", "audio_codec": "aac"}, "transcode_mp4", "aac"),
        ({"container": "avi", "video_codec": "mpeg4", "audio_codec": "mp3"}, "transcode_mp4", "aac"),
        ({"container": "avi", "video_codec": "h264", "audio_codec": None, "has_audio": False},
         "transcode_mp4", "none"),
    ],
)
def test_it_plans_the_cheapest_playable_rendition(changes: dict, kind: str, audio: str) -> None:
    plan = plan_rendition(replace(BASE, **changes))
    assert (plan.kind, plan.audio) == (kind, audio)
    assert plan.content_type == ("video/webm" if kind == "remux_webm" else "video/mp4")


def test_it_gives_a_mediarecorder_webm_a_duration_and_cues_up_front(webm_live: Path, tmp_path: Path) -> None:
    output, plan = make_rendition(webm_live, probe(webm_live), tmp_path)
    assert plan.kind == "remux_webm"
    layout = matroska_layout(output)
    assert layout.duration is not None and abs(layout.duration - 4.0) < 0.2
    assert layout.cues_before_clusters
    facts = probe(output)
    assert (facts.video_codec, facts.audio_codec) == ("vp8", "opus")  # copied, not re-encoded
    assert facts.duration is not None and abs(facts.duration - 4.0) < 0.2


def test_it_remuxes_vp9_recordings_too(webm_live_vp9: Path, tmp_path: Path) -> None:
    output, _ = make_rendition(webm_live_vp9, probe(webm_live_vp9), tmp_path)
    assert matroska_layout(output).cues_before_clusters
    assert probe(output).video_codec == "vp9"


def test_it_copies_chromiums_vp9_opus_mp4_into_webm(tmp_path: Path) -> None:
    """A VP9/Opus MP4 (real Chromium MediaRecorder output, fragmented) was transcoded to H.264:
    minutes of CPU for a long recording, where copying the streams into WebM plays everywhere."""
    source = Path(__file__).parents[1] / "live" / "data" / "chromium-vp9-opus.mp4"
    output, plan = make_rendition(source, probe(source), tmp_path)
    assert plan.kind == "remux_webm" and output.suffix == ".webm"
    facts = probe(output)
    assert (facts.container, facts.video_codec, facts.audio_codec) == ("webm", "vp9", "opus")
    assert facts.duration == pytest.approx(probe(source).duration, abs=0.1)
    assert matroska_layout(output).cues_before_clusters


def test_it_keeps_a_webm_without_audio_silent(webm_no_audio: Path, tmp_path: Path) -> None:
    output, _ = make_rendition(webm_no_audio, probe(webm_no_audio), tmp_path)
    facts = probe(output)
    assert not facts.has_audio
    assert matroska_layout(output).cues_before_clusters


def test_it_moves_moov_first_without_reencoding(mp4_moov_at_end: Path, tmp_path: Path) -> None:
    source = probe(mp4_moov_at_end)
    output, plan = make_rendition(mp4_moov_at_end, source, tmp_path)
    assert plan.kind == "faststart_mp4" and output.suffix == ".mp4"
    assert mp4_is_faststart(output)
    facts = probe(output)
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")
    # A stream copy keeps the bytes: the size barely changes.
    assert abs(facts.size - source.size) < source.size * 0.05


def test_it_transcodes_avi_to_h264_aac_mp4(avi_file: Path, tmp_path: Path) -> None:
    output, plan = make_rendition(avi_file, probe(avi_file), tmp_path)
    assert plan.kind == "transcode_mp4"
    assert mp4_is_faststart(output)
    facts = probe(output)
    assert (facts.container, facts.video_codec, facts.audio_codec, facts.pix_fmt) == ("mp4", "h264", "aac", "yuv420p")
    assert (facts.width, facts.height) == (320, 240)
    assert facts.duration is not None and abs(facts.duration - 4.0) < 0.2


def test_it_copies_h264_out_of_matroska_into_mp4(mkv_h264: Path, tmp_path: Path) -> None:
    output, plan = make_rendition(mkv_h264, probe(mkv_h264), tmp_path)
    assert plan.kind == "faststart_mp4"
    facts = probe(output)
    assert (facts.container, facts.video_codec, facts.audio_codec) == ("mp4", "h264", "aac")
    assert mp4_is_faststart(output)


def test_it_reports_progress_for_a_duration_less_webm(webm_live: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    make_rendition(webm_live, probe(webm_live), tmp_path, progress=seen.append)
    assert seen and seen[-1] == 1.0
