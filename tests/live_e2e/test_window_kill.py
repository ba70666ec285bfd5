"""Cluster: a transcriber worker SIGKILLed in the middle of a live window → the window is
redone by another worker, and the merged transcript has no word doubled or lost.

A MediaRecorder-like WebM of the spoken script (VP8/Opus, 1 s clusters) is sent piece by piece
with `chunk_index` at twice its real pace into a cluster stack (PostgreSQL, RabbitMQ, moto's S3)
whose decoding runs on an `assemble` worker and whose windows run on a `transcribe` worker.
The kill point is an event, not a moment: the first window after window 0 seen `running` in
the database. Then a new transcriber starts; the dead worker's message comes back from RabbitMQ
and is taken over once the window's lease (5 s here) runs out.

The bugs this catches: a window left `running` for good (the recording never finishes); a
window transcribed twice and both results kept (words doubled, or a segment sent twice on the
live stream); a window lost (a hole in the words); the redo committed under new event ids.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RECORDPLUS, Stack, free_port
from tests.faults.test_kill_matrix import Killer
from tests.live_e2e.conftest import live_stack
from tests.live_e2e.live import (
    LiveReader,
    Speech,
    continuity_problems,
    doubled_phrases,
    live_rows,
    make_recording,
    segments_text,
    to_wav16k,
    webm_pieces,
    wer,
    whole_file_transcript,
    window_problems,
)
from tests.support import create_video, db_rows, send_chunk, stored_object

pytestmark = [pytest.mark.cluster, pytest.mark.faults, pytest.mark.timeout(900)]

SPEED = 2.0  # pieces sent at twice the recording's pace
LEASE_SECONDS = 5


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[Stack]:
    yield from live_stack("cluster", tmp_path_factory.mktemp("live-kill"), moto_server, LIVE_LEASE_SECONDS=str(LEASE_SECONDS))


def windows(stack: Stack, video_id: int) -> list[tuple[int, str, int]]:
    """(index, status, attempts) of the video's live windows, read behind the API's back."""
    rows = db_rows(stack, 'SELECT "index", status, attempts FROM transcripts_livewindow WHERE video_id = %s ORDER BY "index"', (video_id,))
    return [(int(i), str(s), int(a)) for i, s, a in rows]


def wait_for_running_window(stack: Stack, video_id: int, sender: threading.Thread, after: int = 0, timeout: float = 240) -> int:
    """The index of the first window past `after` seen `running` (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for index, status, _ in windows(stack, video_id):
            if index > after and status == "running":
                return index
        stack.assert_alive()
        time.sleep(0.02)
    raise AssertionError(f"no window past {after} was seen running: {windows(stack, video_id)} (sender alive: {sender.is_alive()})\n{stack.logs()}")


def final_segments(stack: Stack, video_id: int) -> list[dict[str, Any]]:
    with stack.client() as client:
        return client.get(f"/api/record/videos/{video_id}/transcript").json()["segments"]


def test_a_window_killed_mid_transcription_is_redone_once(cluster: Stack, speech: Speech, tmp_path: Path) -> None:
    recording = make_recording(speech, tmp_path / "kill.webm")
    pieces = webm_pieces(recording.read_bytes())
    # Decoding on its own worker, windows on another: the kill hits transcription only.
    first = next(p for p in cluster.processes if p.name == "worker")
    first.stop()
    cluster.processes.remove(first)
    cluster.add("assembler", [RECORDPLUS, "worker", "--queues", "assemble"], WORKER_METRICS_PORT=str(free_port()))
    transcriber = cluster.add("transcriber-0", [RECORDPLUS, "worker", "--queues", "transcribe"], WORKER_METRICS_PORT=str(free_port()))

    with cluster.client() as client:
        video_id = create_video(client, title="live window kill")
    reader = LiveReader(cluster.url, video_id, timeout=600)
    reader.start()
    errors: list[str] = []
    stop = threading.Event()

    def send_all() -> None:
        started = time.monotonic()
        with cluster.client() as client:
            for index, piece in enumerate(pieces):
                if stop.wait(max(0.0, started + index / SPEED - time.monotonic())):
                    return  # the test failed meanwhile
                response = send_chunk(client, video_id, piece, index)
                if response.status_code != 200:
                    errors.append(f"piece {index}: {response.status_code} {response.text}")

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    try:
        killed = wait_for_running_window(cluster, video_id, sender)
    except BaseException:
        stop.set()
        raise
    killer = Killer()
    killer.kill(cluster, transcriber, f"video {video_id}: live window {killed} running")
    cluster.add("transcriber-1", [RECORDPLUS, "worker", "--queues", "transcribe"], WORKER_METRICS_PORT=str(free_port()))
    sender.join(timeout=300)
    assert not sender.is_alive() and errors == [], errors
    with cluster.client() as client:
        response = client.post(f"/api/record/videos/{video_id}/finalize_video_upload/", json={"chunk_count": len(pieces)})
        assert response.status_code == 200, response.text
    detail = cluster.wait_for(video_id, timeout=240)
    assert detail["status"] == "ready", detail
    reader.join(timeout=400)
    assert reader.error is None and reader.finished, (reader.error, reader.statuses, [e.event for e in reader.events][-5:])

    # The killed window was taken over and done again; every window is done, none twice over.
    status, live_windows = live_rows(cluster, video_id)
    assert status == "finished", (status, live_windows)  # not the whole-file fallback
    rows = windows(cluster, video_id)
    by_index = {index: (status, attempts) for index, status, attempts in rows}
    print(f"killed in window {killed}; windows (index, status, attempts): {rows}")
    assert [index for index, _, _ in rows] == list(range(len(rows))), rows
    assert all(status == "done" for _, status, _ in rows), rows
    assert by_index[killed][1] >= 2, f"window {killed} was not redone: {rows}"
    assert window_problems(live_windows, final_segments(cluster, video_id), duration=detail["duration"]) == []
    killer.assert_no_leftover_processes()

    with cluster.client() as client:
        transcript = client.get(f"/api/record/videos/{video_id}/transcript").json()
    assert transcript["status"] == "done", transcript
    final = transcript["segments"]
    streamed = [e for e in reader.events if e.event == "segment"]
    # Each committed segment went out once, under consecutive ids, and is the final document.
    ids = [int(e.id) for e in streamed if e.id is not None]
    assert len(ids) == len(streamed) and ids == list(range(ids[0], ids[0] + len(ids))), [e.id for e in streamed]
    assert [e.json["text"] for e in streamed] == [s["text"] for s in final]
    assert all(e.id is None for e in reader.events if e.event == "provisional")
    assert reader.events[-1].event == "done" and reader.events[-1].json["segments"] == len(final), reader.events[-1]

    # Nothing doubled or lost: the words follow the speech, as the whole-file transcript does.
    text = segments_text(final)
    upload = tmp_path / "upload.webm"
    upload.write_bytes(stored_object(cluster, f"videos/{detail['public_id']}/source.bin"))
    reference = whole_file_transcript(to_wav16k(upload, tmp_path / "audio-16k.wav"))
    got, baseline = wer(speech.text, text), wer(speech.text, reference.text)
    print(f"WER after the kill {got:.3f}, whole file {baseline:.3f}; {len(final)} segments")
    assert doubled_phrases(text, speech.text) == [], text
    assert continuity_problems(final, duration=detail["duration"], speech=speech) == []
    # A regression guard, not the 0.02 target (see WER_SLACK in test_live_recording.py):
    # the word count below and the seam checks above are the exact part.
    assert got <= 0.35 and got <= baseline + 0.10, (got, baseline, text, reference.text)
    count, whole = sum(len(s["words"]) for s in final), sum(len(s["words"]) for s in reference.segments)
    assert abs(count - whole) <= 3, (count, whole)
