"""Words the engine could not place keep times from their neighbours and are marked."""

from __future__ import annotations

import math

from recordplus.transcriber.words import place_words
from recordplus.transcripts.records import Segment, TranscriptResult


def _assert_well_formed(words, start: float, end: float) -> None:
    for word in words:
        assert start <= word.start <= word.end <= end
    for previous, word in zip(words, words[1:]):
        assert word.start >= previous.start
        assert word.start >= previous.end - 1e-9


def test_it_keeps_placed_words_as_they_are() -> None:
    raw = [{"word": "hello", "start": 1.0, "end": 1.4, "score": 0.9}, {"word": "world", "start": 1.5, "end": 2.0, "score": 0.8}]
    words = place_words(raw, 1.0, 2.0)
    assert [(w.word, w.start, w.end, w.score, w.interpolated) for w in words] == [
        ("hello", 1.0, 1.4, 0.9, False),
        ("world", 1.5, 2.0, 0.8, False),
    ]


def test_it_gives_unplaceable_words_their_neighbours_times_and_marks_them() -> None:
    # WhisperX leaves numbers and symbols without start/end/score when it cannot align them.
    raw = [
        {"word": "pay", "start": 0.0, "end": 0.3, "score": 0.9},
        {"word": "$25", "start": math.nan, "end": math.nan},
        {"word": "%", "start": None},
        {"word": "today", "start": 1.0, "end": 1.5, "score": 0.8},
    ]
    words = place_words(raw, 0.0, 1.5)
    assert [w.word for w in words] == ["pay", "$25", "%", "today"]
    assert [w.interpolated for w in words] == [False, True, True, False]
    # The two unplaced words share the gap between "pay" and "today", in order.
    assert words[1].start == 0.3 and words[2].end == 1.0
    assert words[1].end == words[2].start
    assert words[1].score is None
    _assert_well_formed(words, 0.0, 1.5)


def test_it_marks_words_whisperx_interpolated_without_a_score() -> None:
    raw = [{"word": "a", "start": 0.1, "end": 0.2, "score": 0.5}, {"word": "42", "start": 0.2, "end": 0.4}]
    words = place_words(raw, 0.0, 1.0)
    assert words[1].interpolated and not words[0].interpolated


def test_it_uses_the_segment_edges_when_no_neighbour_is_placed() -> None:
    words = place_words([{"word": "1984"}, {"word": "!"}], 2.0, 3.0)
    assert words[0].start == 2.0 and words[-1].end == 3.0
    assert all(w.interpolated for w in words)
    _assert_well_formed(words, 2.0, 3.0)


def test_it_spreads_the_text_when_alignment_gave_no_words() -> None:
    words = place_words([], 0.0, 2.0, "three little words")
    assert [w.word for w in words] == ["three", "little", "words"]
    assert all(w.interpolated for w in words)
    _assert_well_formed(words, 0.0, 2.0)


def test_it_clamps_words_into_the_segment_and_keeps_order() -> None:
    raw = [
        {"word": "early", "start": -0.5, "end": 0.2, "score": 0.9},
        {"word": "back", "start": 0.1, "end": 0.05, "score": 0.9},
        {"word": "late", "start": 2.5, "end": 3.5, "score": 0.9},
    ]
    words = place_words(raw, 0.0, 3.0)
    assert words[0].start == 0.0
    assert words[-1].end == 3.0
    for word in words:
        assert 0.0 <= word.start <= word.end <= 3.0
    for previous, word in zip(words, words[1:]):
        assert word.start >= previous.start


def test_it_serialises_the_same_schema_for_every_engine() -> None:
    # Weights follow word length: "Hi" gets 2/8 of the second.
    segment = Segment(1.0, 2.0, "Hi there.", place_words([{"word": "Hi"}, {"word": "there."}], 1.0, 2.0))
    result = TranscriptResult("faster-whisper", "tiny.en", "en", [segment.shifted(10.0)], audio_seconds=12.0, wall_seconds=3.0)
    data = result.to_dict()
    assert data["text"] == "Hi there."
    assert data["segments"][0]["start"] == 11.0
    assert data["segments"][0]["words"][0] == {"word": "Hi", "start": 11.0, "end": 11.25, "score": None, "interpolated": True}
    assert result.speed == 4.0
