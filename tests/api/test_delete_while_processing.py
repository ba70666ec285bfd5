"""The owner can delete a video stuck in processing: a running assembly notices the row is gone,
stops, and leaves no object behind (disk and S3); a DELETE racing chunk uploads gives clean JSON
answers (never a 500) and leaves nothing stored."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.conftest import Stack
from tests.support import create_video, finalize, make_webm, send_chunk

CHUNK = 100_000


@pytest.fixture(scope="module")
def long_webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = make_webm(tmp_path_factory.mktemp("media") / "deleted.webm", seconds=30, size="1280x720", bitrate="1500k")
    return path.read_bytes()


def stored_keys(stack: Stack, public_id: str) -> list[str]:
    prefix = f"videos/{public_id}/"
    if stack.mode == "cluster":
        return [o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])]
    root = stack.data_dir / "media" / prefix
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


def open_multipart_uploads(stack: Stack, public_id: str) -> list[str]:
    if stack.mode != "cluster":
        return []
    uploads = stack.s3.list_multipart_uploads(Bucket=stack.bucket, Prefix=f"videos/{public_id}/").get("Uploads", [])
    return [u["Key"] for u in uploads]


def full_logs(stack: Stack) -> str:
    return "\n".join(p.log.read_text(errors="replace") for p in stack.processes if p.log.exists())


def wait_mid_assembly(client: httpx.Client, video_id: int, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        video = client.get(f"/api/record/videos/{video_id}").json()
        if video["status"] == "assembling" and 0 < video["progress"] < 1:
            return video
        assert video["status"] == "assembling", f"finished before it could be deleted: {video}"
        time.sleep(0.02)
    raise AssertionError(f"assembly of video {video_id} never started")


def test_it_deletes_a_video_during_its_assembly(stack: Stack, long_webm: bytes) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        for index, start in enumerate(range(0, len(long_webm), CHUNK)):
            assert send_chunk(client, video_id, long_webm[start : start + CHUNK], index).status_code == 200
        assert finalize(client, video_id).status_code == 200
        video = wait_mid_assembly(client, video_id)
        deleted = client.delete(f"/api/record/videos/{video_id}")
        assert deleted.status_code == 204, deleted.text
        assert client.get(f"/api/record/videos/{video_id}").status_code == 404
    # Wait (with a deadline) for the run to notice and clean up after itself.
    marker = f"video {video_id} was deleted during its assembly"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and marker not in full_logs(stack):
        stack.assert_alive()
        time.sleep(0.2)
    assert marker in full_logs(stack), f"the assembly never stopped\n{stack.logs()}"
    assert stored_keys(stack, video["public_id"]) == [], "objects outlived their video"
    assert open_multipart_uploads(stack, video["public_id"]) == []
    stack.assert_alive()


def test_a_delete_racing_chunk_uploads_answers_json(stack: Stack) -> None:
    for _round in range(3):
        with stack.client() as client:
            video_id = create_video(client)
            assert send_chunk(client, video_id, b"first piece", 0).status_code == 200
            public_id = client.get(f"/api/record/videos/{video_id}").json()["public_id"]
        barrier = threading.Barrier(7)
        answers: list[tuple[str, int, str]] = []

        def upload(index: int, video_id: int = video_id, barrier: threading.Barrier = barrier) -> None:
            with stack.client() as own:
                barrier.wait()
                response = send_chunk(own, video_id, b"piece %d " % index * 5000, index)
                answers.append(("chunk", response.status_code, response.headers.get("content-type", "")))

        def delete(video_id: int = video_id, barrier: threading.Barrier = barrier) -> None:
            with stack.client() as own:
                barrier.wait()
                response = own.delete(f"/api/record/videos/{video_id}")
                answers.append(("delete", response.status_code, response.headers.get("content-type", "")))

        threads = [threading.Thread(target=upload, args=(i,)) for i in range(1, 7)] + [threading.Thread(target=delete)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert len(answers) == 7
        assert ("delete", 204) in [(kind, status) for kind, status, _ in answers], answers
        for kind, status, content_type in answers:
            assert status in ((204,) if kind == "delete" else (200, 404, 409)), answers
            if status >= 400:
                assert content_type.startswith("application/json"), answers
        with stack.client() as client:
            assert client.get(f"/api/record/videos/{video_id}").status_code == 404
        # Every chunk either landed before the delete (removed with the prefix) or was refused
        # and removed its own bytes: nothing is left, once the clean-ups have run.
        deadline = time.monotonic() + 30
        while stored_keys(stack, public_id) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stored_keys(stack, public_id) == []
