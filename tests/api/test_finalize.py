"""Finalize: idempotent, refuses gaps naming them, refuses an empty upload."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.support import create_video, fetch, finalize, make_webm, send_chunk, split


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "finalize.webm", seconds=3).read_bytes()


def test_it_is_idempotent(stack: Stack, webm: bytes) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, webm, 0).status_code == 200
        first = finalize(client, video_id)
        second = finalize(client, video_id)
        assert first.status_code == second.status_code == 200
        assert first.json()["message"] == second.json()["message"] == "Transcription task initiated"
    assert stack.wait_for(video_id)["status"] == "ready"
    with stack.client() as client:
        third = finalize(client, video_id)
    assert third.status_code == 200
    assert third.json()["status"] == "ready"
    assert fetch(stack, f"/api/record/videos/{video_id}/original").content == webm


def test_it_refuses_gaps_and_names_them(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [50_000] * 5)
    with stack.client() as client:
        video_id = create_video(client)
        for index in (0, 2, 5):
            assert send_chunk(client, video_id, pieces[index], index).status_code == 200
        refused = finalize(client, video_id)
        assert refused.status_code == 409
        assert refused.json()["detail"]["missing"] == [1, 3, 4]
        assert "[1, 3, 4]" in refused.json()["message"]
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
        assert status["status"] == "uploading"
        assert status["missing"] == [1, 3, 4]

        # The client fills the gaps, and the same video finalizes.
        for index in (1, 3, 4):
            assert send_chunk(client, video_id, pieces[index], index).status_code == 200
        assert finalize(client, video_id).status_code == 200
    assert stack.wait_for(video_id)["status"] == "ready"
    assert fetch(stack, f"/api/record/videos/{video_id}/original").content == b"".join(pieces[:6])


def test_it_refuses_an_upload_without_chunks(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        refused = finalize(client, video_id)
        assert refused.status_code == 409
        assert "no chunks" in refused.json()["message"]
        assert client.get(f"/api/record/videos/{video_id}").json()["status"] == "uploading"
