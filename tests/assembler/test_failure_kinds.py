"""A deterministic failure fails the video once, with its reason; it is never retried as if it
were transient (the bug: an `OSError [Errno 22]` from a seek was retried six times).

Read behind the API's back: the attempts counted on the row (`assembly_attempts`).
"""

from __future__ import annotations

import os

import psycopg
import sqlite3

from tests.conftest import Stack
from tests.support import make_webm, split


def attempts(stack: Stack, video_id: int) -> int:
    if stack.mode == "embedded":
        with sqlite3.connect(stack.data_dir / "recordplus.sqlite3") as db:
            return db.execute("SELECT assembly_attempts FROM videos_video WHERE id = ?", (video_id,)).fetchone()[0]
    with psycopg.connect(stack.env["DATABASE_URL"]) as db:
        return db.execute("SELECT assembly_attempts FROM videos_video WHERE id = %s", (video_id,)).fetchone()[0]


def send_unindexed(stack: Stack, pieces: list[bytes]) -> int:
    with stack.client() as client:
        created = client.post("/api/record/videos/", data={"title": "t"}, files={"video_file": ("b", pieces[0])})
        video_id = created.json()["video_id"]
        for piece in pieces[1:]:
            sent = client.patch(f"/api/record/videos/{video_id}/update_video_file/", files={"video_chunk": ("b", piece)})
            assert sent.status_code == 200, sent.text
        assert client.post(f"/api/record/videos/{video_id}/finalize_video_upload/").status_code == 200
    return video_id


def test_it_fails_an_unorderable_upload_once(stack: Stack, tmp_path_factory) -> None:  # noqa: ANN001
    webm = make_webm(tmp_path_factory.mktemp("media") / "kinds.webm", seconds=3).read_bytes()
    # Pieces of two different recordings: no order of them is a recording.
    pieces = split(webm, [len(webm) // 3] * 2) + [os.urandom(50_000)]
    video_id = send_unindexed(stack, pieces)
    video = stack.wait_for(video_id)
    assert video["status"] == "failed", video
    assert "piece" in video["error"], video["error"]
    assert attempts(stack, video_id) == 1


def test_it_fails_a_truncated_recording_once_with_a_reason(stack: Stack, tmp_path_factory) -> None:  # noqa: ANN001
    webm = make_webm(tmp_path_factory.mktemp("media") / "kinds.webm", seconds=3).read_bytes()
    cut = webm[: len(webm) - 7000]  # the end of the last cluster is missing
    video_id = send_unindexed(stack, split(cut, [len(cut) // 2]))
    video = stack.wait_for(video_id)
    assert video["status"] == "failed", video
    # Named where it breaks: the Segment runs past the end of what was received.
    assert "runs past the end" in video["error"] or "not whole" in video["error"], video["error"]
    assert attempts(stack, video_id) == 1
