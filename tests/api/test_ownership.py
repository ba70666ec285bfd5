"""Videos belong to their creator: alice cannot see or touch bob's video through any endpoint."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.support import create_video, finalize, make_webm, send_chunk


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "owned.webm", seconds=2).read_bytes()


def test_it_hides_bobs_video_from_alice(stack: Stack, webm: bytes) -> None:
    alice = stack.create_user("alice")
    bob = stack.create_user("bob")
    with stack.client(bob) as client:
        video_id = create_video(client, title="bob's")
        assert send_chunk(client, video_id, webm, 0).status_code == 200
        assert finalize(client, video_id).status_code == 200
    assert stack.wait_for(video_id, token=bob)["status"] == "ready"

    with stack.client(alice) as client:
        calls = {
            "detail": client.get(f"/api/record/videos/{video_id}"),
            "upload status": client.get(f"/api/record/videos/{video_id}/upload"),
            "stream": client.get(f"/api/record/videos/{video_id}/stream_video/"),
            "original": client.get(f"/api/record/videos/{video_id}/original"),
            "thumbnail": client.get(f"/api/record/videos/{video_id}/thumbnail"),
            "transcript": client.get(f"/api/record/videos/{video_id}/transcript"),
            "chunk": send_chunk(client, video_id, b"x", 1),
            "chunk by path": client.patch(f"/api/record/videos/{video_id}/update_video_file/", files={"video_chunk": ("b", b"x")}),
            "finalize": finalize(client, video_id),
            "finalize by path": client.post(f"/api/record/videos/{video_id}/finalize_video_upload/"),
        }
        for name, response in calls.items():
            assert response.status_code == 404, (name, response.status_code, response.text)
            assert "not found" in response.json()["message"], name
        assert video_id not in [v["id"] for v in client.get("/api/record/videos/").json()]

    with stack.client() as anonymous:
        assert anonymous.get(f"/api/record/videos/{video_id}").status_code == 404
        assert video_id not in [v["id"] for v in anonymous.get("/api/record/videos/").json()]

    with stack.client(bob) as client:
        assert client.get(f"/api/record/videos/{video_id}").json()["title"] == "bob's"
        assert video_id in [v["id"] for v in client.get("/api/record/videos/").json()]
        assert client.get(f"/api/record/videos/{video_id}/upload").json()["status"] == "ready"


def test_it_rejects_a_bad_token(stack: Stack) -> None:
    with stack.client("rp_not-a-real-token") as client:
        response = client.get("/api/record/videos/")
    assert response.status_code == 401
    assert "invalid" in response.json()["message"]
    with stack.client() as client:
        response = client.get("/api/record/videos/", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["message"]
