"""DELETE videos/N removes the video and everything stored for it, for its owner only."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import Stack
from tests.support import create_video, finalize, make_webm, send_chunk, upload


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "delete.webm", seconds=2).read_bytes()


def stored_keys(stack: Stack, public_id: str) -> list[str]:
    prefix = f"videos/{public_id}/"
    if stack.mode == "cluster":
        return [o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])]
    root = stack.data_dir / "media" / prefix
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


def wait_for_transcription(client: httpx.Client, video_id: int, timeout: float = 300) -> None:
    """A video is deletable once no transcription is writing to it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        transcription = client.get(f"/api/record/videos/{video_id}").json()["transcription"]
        if transcription is None or transcription["status"] in ("done", "failed"):
            return
        time.sleep(0.5)
    raise AssertionError(f"transcription of video {video_id} did not finish")


def test_it_deletes_a_ready_video_and_its_objects(stack: Stack, webm: bytes) -> None:
    video_id = upload(stack, webm)
    video = stack.wait_for(video_id)
    assert video["status"] == "ready"
    with stack.client() as client:
        wait_for_transcription(client, video_id)
        response = client.delete(f"/api/record/videos/{video_id}/")
        assert response.status_code == 204, response.text
        assert client.get(f"/api/record/videos/{video_id}").status_code == 404
        assert video_id not in [v["id"] for v in client.get("/api/record/videos/").json()]
        assert client.delete(f"/api/record/videos/{video_id}").status_code == 404
    assert stored_keys(stack, video["public_id"]) == []


def test_it_deletes_an_upload_in_progress(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, b"some bytes", 0).status_code == 200
        public_id = client.get(f"/api/record/videos/{video_id}").json()["public_id"]
        assert stored_keys(stack, public_id)
        assert client.delete(f"/api/record/videos/{video_id}").status_code == 204
        assert send_chunk(client, video_id, b"more", 1).status_code == 404
    assert stored_keys(stack, public_id) == []


def test_it_deletes_while_assembling(stack: Stack, webm: bytes) -> None:
    # A video stuck in processing can be deleted (tests/api/test_delete_while_processing.py
    # checks that a running assembly then stops and leaves no object behind).
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, webm, 0).status_code == 200
        assert finalize(client, video_id).status_code == 200
        assert client.delete(f"/api/record/videos/{video_id}").status_code == 204
        assert client.get(f"/api/record/videos/{video_id}").status_code == 404
        assert client.delete(f"/api/record/videos/{video_id}").status_code == 404


def test_it_lets_only_the_owner_delete(stack: Stack) -> None:
    alice = stack.create_user("alice-deletes")
    bob = stack.create_user("bob-deletes")
    with stack.client(alice) as client:
        video_id = create_video(client)
    with stack.client(bob) as client:
        assert client.delete(f"/api/record/videos/{video_id}").status_code == 404
    with stack.client() as anonymous:
        assert anonymous.delete(f"/api/record/videos/{video_id}").status_code == 404
    with stack.client(alice) as client:
        assert client.get(f"/api/record/videos/{video_id}").status_code == 200
