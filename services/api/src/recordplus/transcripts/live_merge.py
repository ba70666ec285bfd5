"""One transcript from the windows of a live transcription. Plain module: no Django, no Dramatiq.

Windows are disjoint stretches of the recording cut at pauses, so a word is in exactly one of
them: merging is putting their segments in order. What the seams could still break is made
impossible here: every time is clamped into its own window, and times never go back (a
segment or word starts no earlier than the previous one ended). Segment `n` of the merge
depends only on windows up to its own, so the live stream's numbering (segments sent while
later windows are still being transcribed) is the final transcript's numbering.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from recordplus.transcripts.records import Segment, Word, rounded


def clamp_window(segments: Iterable[Segment], start: float, end: float) -> list[Segment]:
    """A window's segments (already shifted to the recording's time) kept inside [start, end]."""
    out = []
    for segment in segments:
        words = [
            Word(w.word, _within(w.start, start, end), _within(w.end, start, end), w.score, w.interpolated, w.speaker)
            for w in segment.words
        ]
        out.append(Segment(_within(segment.start, start, end), _within(segment.end, start, end), segment.text, words, segment.speaker))
    return out


def _within(value: float, lo: float, hi: float) -> float:
    return min(max(value, lo), hi)


def merge_windows(windows: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The segments of consecutive windows (stored dicts, times from the recording's start)
    as one list with monotonic times; empty segments are dropped."""
    merged: list[dict[str, Any]] = []
    cursor = 0.0
    for segments in windows:
        for raw in segments:
            text = str(raw.get("text", "")).strip()
            if not text:
                continue
            start = max(float(raw["start"]), cursor)
            words = []
            word_cursor = start
            for word in raw.get("words") or []:
                w_start = max(float(word["start"]), word_cursor)
                w_end = max(float(word["end"]), w_start)
                words.append({**word, "start": rounded(w_start), "end": rounded(w_end)})
                word_cursor = w_end
            end = max(float(raw["end"]), word_cursor, start)
            segment = {**raw, "start": rounded(start), "end": rounded(end), "text": text, "words": words}
            merged.append(segment)
            cursor = end
    return merged


def segment_of(data: dict[str, Any]) -> Segment:
    """A stored segment dict back as a record (for the caption writers)."""
    words = [
        Word(
            str(w["word"]), float(w["start"]), float(w["end"]), w.get("score"),
            bool(w.get("interpolated", False)), w.get("speaker"),
        )
        for w in data.get("words") or []
    ]  # fmt: skip
    return Segment(float(data["start"]), float(data["end"]), str(data["text"]), words, data.get("speaker"))
