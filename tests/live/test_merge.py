"""Merging the windows of a live transcription into one transcript.

Bugs it catches: a segment or word starting before the previous one ended (times going back
at a seam), words moved out of their own window, words dropped or doubled at a seam, the
merge of a prefix of windows numbering segments differently from the full merge (the live
stream's segment n would not be the final transcript's segment n).
"""

from __future__ import annotations

from recordplus.transcripts.live_merge import clamp_window, merge_windows, segment_of
from recordplus.transcripts.records import Segment, Word


def seg(start: float, end: float, *words: tuple[str, float, float]) -> dict:
    return {"start": start, "end": end, "text": " ".join(w for w, _, _ in words),
            "words": [{"word": w, "start": s, "end": e, "score": 0.9} for w, s, e in words]}  # fmt: skip


WINDOWS = [
    [seg(0.4, 2.0, ("The", 0.4, 0.6), ("quick", 0.6, 1.0), ("fox.", 1.1, 2.0))],
    # The engine put the first word a little before the window's start (2.1 s, clamped there
    # by clamp_window) and its segment start before the previous end.
    [seg(1.9, 4.0, ("Please", 1.9, 2.5), ("send", 2.6, 3.0), ("it.", 3.1, 4.0)), seg(4.2, 5.0, ("Now.", 4.2, 5.0))],
    [],  # a window of silence
    [seg(6.0, 7.0, ("Bye.", 6.0, 7.0))],
]


def all_words(segments: list[dict]) -> list[str]:
    return [w["word"] for s in segments for w in s["words"]]


def test_it_keeps_every_word_once_in_order() -> None:
    merged = merge_windows(WINDOWS)
    assert all_words(merged) == ["The", "quick", "fox.", "Please", "send", "it.", "Now.", "Bye."]
    assert [s["text"] for s in merged] == ["The quick fox.", "Please send it.", "Now.", "Bye."]


def test_its_times_never_go_back() -> None:
    merged = merge_windows(WINDOWS)
    previous_end = 0.0
    for segment in merged:
        assert segment["start"] >= previous_end
        word_end = segment["start"]
        for word in segment["words"]:
            assert segment["start"] <= word["start"] <= word["end"] <= segment["end"]
            assert word["start"] >= word_end
            word_end = word["end"]
        previous_end = segment["end"]


def test_a_prefix_of_windows_merges_to_a_prefix_of_the_transcript() -> None:
    full = merge_windows(WINDOWS)
    for k in range(len(WINDOWS) + 1):
        prefix = merge_windows(WINDOWS[:k])
        assert prefix == full[: len(prefix)]


def test_it_keeps_words_inside_their_window() -> None:
    found = [Segment(-0.3, 5.5, "a b", [Word("a", -0.3, 0.2, 0.9), Word("b", 4.8, 5.5, 0.9)])]
    shifted = [s.shifted(10.0) for s in found]
    clamped = clamp_window(shifted, 10.0, 15.0)
    assert clamped[0].start == 10.0 and clamped[0].end == 15.0
    assert [(w.start, w.end) for w in clamped[0].words] == [(10.0, 10.2), (14.8, 15.0)]


def test_a_stored_segment_reads_back_as_the_same_record() -> None:
    data = Segment(1.0, 2.0, "hi there", [Word("hi", 1.0, 1.4, 0.8), Word("there", 1.5, 2.0, None, True)]).to_dict()
    assert segment_of(data).to_dict() == data
