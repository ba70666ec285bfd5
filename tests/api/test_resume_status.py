"""GET videos/N/upload tells a client what arrived, so it can resume after a network drop."""

from __future__ import annotations

from tests.conftest import Stack
from tests.support import create_video, send_chunk


def test_it_reports_received_bytes_and_missing_indexes(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        empty = client.get(f"/api/record/videos/{video_id}/upload/").json()
        assert empty == {
            "video_id": video_id,
            "status": "uploading",
            "received": [],
            "chunks": 0,
            "bytes": 0,
            "missing": [],
            "next_index": 0,
            "accepting_chunks": True,
        }
        for index, size in ((0, 10), (1, 20), (4, 40)):
            assert send_chunk(client, video_id, bytes([index]) * size, index).status_code == 200
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
    assert status["received"] == [0, 1, 4]
    assert status["chunks"] == 3
    assert status["bytes"] == 70
    assert status["missing"] == [2, 3]
    assert status["next_index"] == 5
