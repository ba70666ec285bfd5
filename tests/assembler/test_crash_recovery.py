"""A worker killed in the middle of an assembly loses nothing: the message comes back (RabbitMQ
redelivers it; the embedded mode's reconciler re-enqueues it) and the run converges to the same
objects, without duplicates or leftovers."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    RECORDPLUS,
    Stack,
    embedded_env,
    fresh_postgres_database,
    fresh_rabbitmq_vhost,
    make_cluster_stack,
)
from tests.support import db_rows, fetch, make_webm, upload

CHUNK = 100_000
EXPECTED = {"source.bin", "video.webm", "thumbnail.jpg", "audio.wav"}
ALLOWED = EXPECTED | {f"transcript.{ext}" for ext in ("json", "vtt", "srt", "txt")}


def expected_names(stack: Stack, video_id: int) -> set[str]:
    """What a ready video must have stored: no audio.wav when it was transcribed live (its audio
    was decoded while its chunks arrived, so the assembly decoded none)."""
    live = db_rows(stack, "SELECT status FROM transcripts_livetranscript WHERE video_id = %s", (video_id,))
    return EXPECTED - {"audio.wav"} if live and live[0][0] != "abandoned" else EXPECTED


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = make_webm(tmp_path_factory.mktemp("media") / "crash.webm", seconds=40, size="1280x720", bitrate="1500k")
    return path.read_bytes()


def wait_until_mid_assembly(stack: Stack, video_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    with stack.client() as client:
        while time.monotonic() < deadline:
            video = client.get(f"/api/record/videos/{video_id}").json()
            if video["status"] == "assembling" and 0 < video["progress"] < 1:
                return video
            assert video["status"] == "assembling", f"finished before it could be interrupted: {video}"
            time.sleep(0.02)
    raise AssertionError(f"assembly of {video_id} never started\n{stack.logs()}")


def stored_names(stack: Stack, public_id: str) -> list[str]:
    prefix = f"videos/{public_id}/"
    if stack.mode == "cluster":
        listed = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])
        return sorted(item["Key"][len(prefix):] for item in listed)
    root = stack.data_dir / "media" / prefix
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_converged(stack: Stack, video_id: int, webm: bytes) -> None:
    video = stack.wait_for(video_id, timeout=240)
    assert video["status"] == "ready", video
    assert video["progress"] == 1.0
    assert fetch(stack, f"/api/record/videos/{video_id}/original").content == webm
    # The chunk objects are removed right after `ready` commits (never before: a crash in between
    # must still be able to stitch again), and a live transcription's window audio (live/) once
    # its transcript is done; so wait for the transcript to end and that clean-up to finish.
    deadline = time.monotonic() + 300
    with stack.client() as client:
        while time.monotonic() < deadline:
            transcription = client.get(f"/api/record/videos/{video_id}").json().get("transcription") or {}
            if transcription.get("status") in (None, "done", "failed"):
                break
            time.sleep(0.2)
    assert (transcription.get("status") or "done") == "done", transcription
    deadline = time.monotonic() + 60
    names = stored_names(stack, video["public_id"])
    while not set(names) <= ALLOWED and time.monotonic() < deadline:
        time.sleep(0.2)
        names = stored_names(stack, video["public_id"])
    assert expected_names(stack, video_id) <= set(names), names
    assert set(names) <= ALLOWED, f"leftovers or duplicates: {names}"
    if stack.mode == "cluster":
        assert stack.s3.list_multipart_uploads(Bucket=stack.bucket).get("Uploads", []) == []


@pytest.fixture
def own_cluster_stack(tmp_path: Path, moto_server: str) -> Iterator[Stack]:
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        stack = make_cluster_stack(tmp_path, database, broker, moto_server)
        try:
            yield stack
        finally:
            stack.stop()


def test_it_recovers_a_worker_killed_mid_assembly(own_cluster_stack: Stack, webm: bytes) -> None:
    stack = own_cluster_stack
    video_id = upload(stack, webm, chunk_sizes=[CHUNK] * (len(webm) // CHUNK))
    wait_until_mid_assembly(stack, video_id)
    worker = next(p for p in stack.processes if p.name == "worker")
    worker.stop(signal.SIGKILL)
    stack.processes.remove(worker)
    with stack.client() as client:
        assert client.get(f"/api/record/videos/{video_id}").json()["status"] == "assembling"
    stack.add("worker-2", [RECORDPLUS, "worker", "--queues", *worker.args[worker.args.index("--queues") + 1 :]])
    assert_converged(stack, video_id, webm)


def test_it_recovers_an_embedded_server_killed_mid_assembly(tmp_path: Path, webm: bytes) -> None:
    data_dir = tmp_path / "var"
    stack = Stack(mode="embedded", env=embedded_env(data_dir, FINALIZE_SETTLE_SECONDS="0.2"), workdir=tmp_path, data_dir=data_dir)
    stack.start_server()
    try:
        video_id = upload(stack, webm, chunk_sizes=[CHUNK] * (len(webm) // CHUNK))
        wait_until_mid_assembly(stack, video_id)
        stack.stop(signal.SIGKILL)
        stack.start_server()
        assert_converged(stack, video_id, webm)
    finally:
        stack.stop()
