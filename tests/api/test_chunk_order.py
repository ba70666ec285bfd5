"""Explicit chunk_index decides the order, whatever order the chunks arrive in."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.support import create_video, fetch, finalize, make_webm, send_chunk, split


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "order.webm", seconds=4).read_bytes()


def test_it_reorders_by_chunk_index(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [100_000, 250_001, 77_777, 400_000])
    with stack.client() as client:
        video_id = create_video(client)
        for index in [3, 0, 4, 2, 1]:
            response = send_chunk(client, video_id, pieces[index], index)
            assert response.status_code == 200, response.text
            assert response.json()["chunk_index"] == index
        assert finalize(client, video_id).status_code == 200
    assert stack.wait_for(video_id)["status"] == "ready"
    assert fetch(stack, f"/api/record/videos/{video_id}/original").content == webm


def test_it_appends_chunks_without_index_after_the_highest(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [300_000, 300_000])
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, pieces[0], 0).json()["chunk_index"] == 0
        assert send_chunk(client, video_id, pieces[1]).json()["chunk_index"] == 1
        assert send_chunk(client, video_id, pieces[2]).json()["chunk_index"] == 2
        assert finalize(client, video_id).status_code == 200
    assert stack.wait_for(video_id)["status"] == "ready"
    assert fetch(stack, f"/api/record/videos/{video_id}/original").content == webm
