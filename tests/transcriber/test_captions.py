"""WebVTT, SRT and text rendering of transcript segments."""

from __future__ import annotations

import re

from recordplus.transcriber.captions import build_cues, format_timestamp, to_srt, to_text, to_vtt, wrap_lines
from recordplus.transcripts.records import Segment, Word

VTT_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2}):(\d{2}):(\d{2})\.(\d{3})$")
SRT_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2}):(\d{2}):(\d{2}),(\d{3})$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_vtt(document: str) -> list[tuple[float, float, str]]:
    """A strict little WebVTT reader: header, then blocks of timing line + text lines."""
    blocks = document.strip("\n").split("\n\n")
    assert blocks[0] == "WEBVTT"
    cues = []
    for block in blocks[1:]:
        lines = block.split("\n")
        match = VTT_TIME.match(lines[0])
        assert match, f"bad timing line {lines[0]!r}"
        g = match.groups()
        cues.append((_seconds(*g[:4]), _seconds(*g[4:]), "\n".join(lines[1:])))
    return cues


def parse_srt(document: str) -> list[tuple[float, float, str]]:
    cues = []
    for number, block in enumerate(document.strip("\n").split("\n\n"), start=1):
        lines = block.split("\n")
        assert lines[0] == str(number)
        match = SRT_TIME.match(lines[1])
        assert match, f"bad timing line {lines[1]!r}"
        g = match.groups()
        cues.append((_seconds(*g[:4]), _seconds(*g[4:]), "\n".join(lines[2:])))
    return cues


def _segment(start: float, end: float, text: str) -> Segment:
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = [Word(t, start + i * step, start + (i + 1) * step, 0.9) for i, t in enumerate(tokens)]
    return Segment(start, end, text, words)


def test_it_formats_timestamps() -> None:
    assert format_timestamp(0) == "00:00:00.000"
    assert format_timestamp(3661.5) == "01:01:01.500"
    assert format_timestamp(59.9996) == "00:01:00.000"
    assert format_timestamp(12.345, decimal=",") == "00:00:12,345"
    assert format_timestamp(-1) == "00:00:00.000"


def test_it_writes_parseable_vtt_and_srt() -> None:
    segments = [_segment(0.5, 2.0, "Hello there."), _segment(2.5, 4.0, "General Kenobi.")]
    vtt = parse_vtt(to_vtt(segments))
    srt = parse_srt(to_srt(segments))
    assert vtt == [(0.5, 2.0, "Hello there."), (2.5, 4.0, "General Kenobi.")]
    assert srt == vtt


def test_it_splits_long_segments_into_short_cues_covering_the_segment() -> None:
    text = " ".join(f"word{i}" for i in range(40))
    segment = _segment(1.0, 21.0, text)
    cues = build_cues([segment])
    assert len(cues) > 2
    assert cues[0].start == 1.0 and cues[-1].end == 21.0
    for cue in cues:
        assert cue.end - cue.start <= 7.0 + 1e-9
        assert len(cue.text) <= 84
    assert " ".join(c.text for c in cues) == text


def test_it_keeps_cues_ordered_without_overlap_and_positive() -> None:
    # Overlapping and zero-length segments, as engines sometimes produce.
    segments = [Segment(0.0, 2.0, "one"), Segment(1.5, 1.5, "two"), Segment(1.0, 3.0, "three")]
    cues = build_cues(segments)
    for previous, cue in zip(cues, cues[1:]):
        assert cue.start >= previous.end
    assert all(cue.end > cue.start for cue in cues)


def test_it_escapes_markup_in_vtt() -> None:
    document = to_vtt([Segment(0, 1, "a < b & c")])
    assert "a &lt; b &amp; c" in document


def test_it_labels_speakers() -> None:
    segment = Segment(0, 1, "Hi.", speaker="SPEAKER_00")
    assert "<v SPEAKER_00>Hi." in to_vtt([segment])
    assert "[SPEAKER_00] Hi." in to_srt([segment])
    assert to_text([segment]) == "SPEAKER_00: Hi.\n"


def test_it_handles_an_empty_transcript() -> None:
    assert to_vtt([]).strip() == "WEBVTT"
    assert to_srt([]) == ""
    assert to_text([]) == ""


def test_it_wraps_long_cues_onto_two_balanced_lines() -> None:
    text = "Please send the quarterly report to the finance team before Friday."
    wrapped = wrap_lines(text)
    first, second = wrapped.split("\n")
    assert f"{first} {second}" == text
    assert abs(len(first) - len(second)) < 12
    assert wrap_lines("short line") == "short line"
    cues = parse_vtt(to_vtt([Segment(0.0, 4.0, text)]))
    assert cues[0][2] == wrapped
