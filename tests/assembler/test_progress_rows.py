"""An assembly's progress reaches the video's row in steps, not once per stitched piece.

Bug it catches: a commit per piece (600 for a 10-minute recording sent in 1 s pieces; on
SQLite an fsync each), which made stop → ready wait seconds on a busy machine.
"""

from __future__ import annotations

import pytest
from recordplus.assembler import pipeline


def test_it_writes_progress_every_two_percent_and_always_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[float] = []
    monkeypatch.setattr(pipeline.services, "video_set_progress", lambda *, video_id, fraction: written.append(fraction))
    report = pipeline._ProgressRows(5)
    for piece in range(1, 601):
        report(0.5 * piece / 600)  # stitching: half of the whole
    report(1.0)
    assert 20 <= len(written) <= 30, len(written)
    assert written == sorted(written) and written[-1] == 1.0
    stitching = written[:-1]
    assert max(b - a for a, b in zip(stitching, stitching[1:])) <= 0.021  # still moving, in steps
