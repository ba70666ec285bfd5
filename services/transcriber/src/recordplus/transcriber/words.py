"""Turning an engine's raw words into ordered, timed `Word`s. Plain module: no Django, no Dramatiq.

Both engines go through `place_words`, so the records (`recordplus.transcripts.records`) have
the same guarantees whichever ran: every word has `start` <= `end` inside its segment, in
order; a word the engine could not place itself (WhisperX alignment has no characters for
it, e.g. numbers or symbols) gets times from its neighbours and `interpolated: true` instead
of being dropped.
"""

from __future__ import annotations

import math
import re
from typing import Any

from recordplus.transcripts.records import Word


def _number(value: Any) -> float | None:
    """A finite float, or None for missing/NaN values (WhisperX uses NaN for 'not aligned')."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def place_words(raw_words: list[dict[str, Any]], seg_start: float, seg_end: float, text: str = "") -> list[Word]:
    """Turn an engine's words into ordered `Word`s inside [seg_start, seg_end].

    `raw_words` are dicts with `word` and optional `start`/`end`/`score`. A word lacking a time
    (or a score: WhisperX fills times of unaligned words itself, but leaves their score out)
    is `interpolated`: a run of such words shares the gap between the placed neighbours (or
    the segment's edges) in proportion to their lengths. With no words at all but some `text`,
    the text's words are spread over the segment the same way, all interpolated.
    """
    if seg_end < seg_start:
        seg_end = seg_start
    if not raw_words and text.strip():
        raw_words = [{"word": token} for token in text.split()]
    words: list[Word] = []
    for raw in raw_words:
        token = str(raw.get("word", "")).strip()
        if not token:
            continue
        start, end, score = _number(raw.get("start")), _number(raw.get("end")), _number(raw.get("score"))
        placed = start is not None and end is not None and score is not None
        word = Word(token, start if placed else math.nan, end if placed else math.nan, score, not placed)
        word.speaker = raw.get("speaker") or None
        words.append(word)

    # Clamp placed words into the segment and keep them in order before filling gaps.
    cursor = seg_start
    for word in words:
        if word.interpolated:
            continue
        word.start = min(max(word.start, cursor, seg_start), seg_end)
        word.end = min(max(word.end, word.start), seg_end)
        cursor = word.start

    i = 0
    while i < len(words):
        if not words[i].interpolated:
            i += 1
            continue
        j = i
        while j < len(words) and words[j].interpolated:
            j += 1
        left = words[i - 1].end if i > 0 else seg_start
        right = words[j].start if j < len(words) else seg_end
        right = max(right, left)
        weights = [max(len(w.word), 1) for w in words[i:j]]
        total = float(sum(weights))
        done = 0.0
        for w, weight in zip(words[i:j], weights):
            w.start = left + (right - left) * done / total
            done += weight
            w.end = left + (right - left) * done / total
        i = j
    return words
