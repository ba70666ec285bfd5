"""Live audio: decode steps stitched into one timeline, and windows cut at pauses.

Bugs it catches: each step's cold decoder dropping its pre-skip (a click and 6.5 ms lost per
second), samples placed by count instead of by block time (the audio drifts from the video),
the held-back last block never decoded at the end, a window cut inside a word, a window that
never closes when nobody pauses, the last bit of audio lost at the end of the recording.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from recordplus.assembler.live_audio import (
    FRAME,
    SAMPLE_RATE,
    WindowRules,
    cut_windows,
    decode_step,
    frame_levels,
    quiet_threshold,
)
from recordplus.assembler.live_webm import WebmCursor, WebmReader

from tests.live.media import whole_pcm


def live_timeline(data: bytes, cuts: list[int], workdir: Path) -> np.ndarray:
    """The PCM the live decoder builds from `data` received in pieces cut at `cuts`."""
    cursor = WebmCursor()
    held, priming, decoded, parts = None, [], 0, []
    for end in [*cuts, len(data)]:
        ended = end == len(data)
        walked = WebmReader(cursor).walk(data[cursor.offset : end] if cursor.offset < end else b"", at_end=ended)
        step = decode_step(cursor, held=held, priming=priming, blocks=walked.blocks, decoded=decoded, ended=ended,
                           workdir=workdir)  # fmt: skip
        held, priming, decoded = step.held, step.priming, step.decoded
        parts.append(step.pcm)
    return np.concatenate(parts)


def best_lag(a: np.ndarray, b: np.ndarray, span: int) -> tuple[int, float]:
    """(lag, relative error) that best lines `a` up with `b` (a[lag + i] ~ b[i])."""
    n = min(len(a), len(b)) - 2 * span
    ref = b[span : span + n].astype(np.float64)
    best = (0, float("inf"))
    for lag in range(-span, span + 1):
        got = a[span + lag : span + lag + n].astype(np.float64)
        err = float(np.sqrt(np.mean((got - ref) ** 2)) / max(np.sqrt(np.mean(ref**2)), 1.0))
        if err < best[1]:
            best = (lag, err)
    return best


def test_it_decodes_pieces_onto_the_whole_files_timeline(live_webm: Path, tmp_path: Path) -> None:
    data = live_webm.read_bytes()
    whole = np.frombuffer(whole_pcm(live_webm), dtype="<i2")
    step = len(data) // 25  # about one second per piece
    cuts = list(range(step, len(data), step))
    live = live_timeline(data, cuts, tmp_path)
    # Same length (within 30 ms: the last Opus frame's padding), same timeline (within 2 ms).
    assert abs(len(live) - len(whole)) <= 0.03 * SAMPLE_RATE
    lag, error = best_lag(live, whole, span=160)
    assert abs(lag) <= 32, lag
    assert error < 0.05, error
    # Continuity at every step boundary: no stretch of the live audio differs from the whole
    # file's (a cold decoder's pre-skip or a misplaced step shows up as a local burst).
    window = SAMPLE_RATE // 10
    n = min(len(live), len(whole)) - abs(lag) - window
    for at in range(window, n, window):
        got = live[at + lag : at + lag + window].astype(np.float64)
        ref = whole[at : at + window].astype(np.float64)
        loud = max(np.sqrt(np.mean(ref**2)), 300.0)
        assert np.sqrt(np.mean((got - ref) ** 2)) / loud < 0.3, f"discontinuity near {at / SAMPLE_RATE:.2f}s"


def test_it_gives_the_same_audio_whatever_the_piece_boundaries(live_webm: Path, tmp_path: Path) -> None:
    data = live_webm.read_bytes()
    one = live_timeline(data, [], tmp_path)
    rng = random.Random(3)
    cuts = sorted(rng.sample(range(1, len(data)), 30))
    other = live_timeline(data, cuts, tmp_path)
    assert len(one) == len(other)
    lag, error = best_lag(other, one, span=8)
    assert lag == 0 and error < 0.05


def tone(seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 220 * t) * level * 32767).astype(np.int16)


def hush(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


RULES = WindowRules(min_seconds=4.0, max_seconds=10.0, pause_seconds=0.3)


def test_it_cuts_in_the_middle_of_the_first_pause_after_the_minimum() -> None:
    pcm = np.concatenate([tone(2), hush(0.5), tone(3), hush(0.6), tone(2)])  # pauses at 2.0 and 5.5 s
    cuts = cut_windows(pcm, RULES, final=False)
    assert len(cuts) == 1
    # The pause at 2 s is before the 4 s minimum; the one at 5.5-6.1 s is taken, mid-pause.
    assert 5.5 * SAMPLE_RATE < cuts[0] < 6.1 * SAMPLE_RATE
    assert np.all(pcm[cuts[0] - FRAME : cuts[0] + FRAME] == 0)


def test_it_waits_while_a_pause_may_still_come() -> None:
    assert cut_windows(np.concatenate([tone(6), hush(0.1)]), RULES, final=False) == []


def test_it_forces_a_cut_at_the_maximum_when_nobody_pauses() -> None:
    pcm = tone(25)
    cuts = cut_windows(pcm, RULES, final=False)
    assert len(cuts) == 2
    assert all(0 < b - a <= 10 * SAMPLE_RATE for a, b in zip([0, *cuts], cuts))


def test_it_closes_the_rest_as_the_last_window_at_the_end() -> None:
    pcm = np.concatenate([tone(5), hush(0.5), tone(1.2)])
    cuts = cut_windows(pcm, RULES, final=True)
    assert cuts[-1] == len(pcm)
    assert len(cuts) == 2


def test_its_pause_threshold_follows_the_noise_floor() -> None:
    rng = np.random.default_rng(1)
    noise = (rng.normal(0, 0.01, 10 * SAMPLE_RATE) * 32767).astype(np.int16)  # about -40 dBFS
    speech = noise.copy()
    speech[: 4 * SAMPLE_RATE] += tone(4)
    speech[5 * SAMPLE_RATE : 9 * SAMPLE_RATE] += tone(4)
    levels = frame_levels(speech)
    threshold = quiet_threshold(levels)
    assert levels[int(4.5 * SAMPLE_RATE) // FRAME] < threshold < levels[int(2 * SAMPLE_RATE) // FRAME]
    cuts = cut_windows(speech, RULES, final=False)
    assert cuts and 4.0 * SAMPLE_RATE < cuts[0] < 5.0 * SAMPLE_RATE


def test_its_cuts_do_not_depend_on_how_the_audio_arrived(long_speech: Path) -> None:
    import wave

    with wave.open(str(long_speech)) as wav:
        clean = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    # A room's noise (about -45 dBFS): the pause level then depends on what the audio holds.
    noise = np.random.default_rng(5).normal(0, 180, len(clean))
    pcm = np.clip(clean + noise, -32768, 32767).astype(np.int16)
    rules = WindowRules(min_seconds=8.0, max_seconds=15.0, pause_seconds=0.3)
    full = cut_windows(pcm, rules, final=False)
    assert len(full) >= 3
    # As the decoder sees it: the open window grows step by step, and is cut from its start.
    for step in (0.5, 1.0, 2.7):
        cuts, start, have = [], 0, 0
        while have < len(pcm):
            have = min(have + int(step * SAMPLE_RATE), len(pcm))
            for cut in cut_windows(pcm[start:have], rules, final=False):
                cuts.append(start + cut)
            start = cuts[-1] if cuts else 0
        assert cuts == full, step


def test_a_pause_just_past_the_maximum_is_found_whatever_the_steps() -> None:
    # Speech up to 14.95 s, then a pause: a step that ends at 15.0 s must not force a cut
    # elsewhere before the pause could be seen (a later, longer step finds the pause).
    # A softer (not quiet) moment at 13 s is where a forced cut would go.
    pcm = np.concatenate([tone(13.0), tone(0.1, level=0.1), tone(1.85), hush(0.5), tone(5)])
    rules = WindowRules(min_seconds=8.0, max_seconds=15.0, pause_seconds=0.3)
    full = cut_windows(pcm, rules, final=False)
    assert 14.95 * SAMPLE_RATE <= full[0] <= 15.0 * SAMPLE_RATE  # in the pause
    for have in (15.0, 15.1, 15.3, 16.0):
        cuts = cut_windows(pcm[: int(have * SAMPLE_RATE)], rules, final=False)
        assert cuts == full[: len(cuts)], have
