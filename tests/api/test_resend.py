"""Re-sending a chunk: same bytes are a no-op, different bytes a 409 that changes nothing.

Checked by what is stored — one Chunk row per index with the first bytes, and no stray object
left in storage by the refused or duplicate upload — not only by the answers."""

from __future__ import annotations

from tests.conftest import Stack
from tests.support import create_video, finalize, send_chunk, stored_chunks, stored_keys, stored_original, video_public_id



def chunk_objects(stack: Stack, video_id: int) -> list[str]:
    """Every object under the video's chunks prefix in storage."""
    return stored_keys(stack, f"videos/{video_public_id(stack, video_id)}/chunks/")


def test_it_treats_a_same_bytes_resend_as_a_no_op(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        first = send_chunk(client, video_id, b"A" * 1000, 0)
        again = send_chunk(client, video_id, b"A" * 1000, 0)
        assert first.status_code == again.status_code == 200
        assert first.json()["duplicate"] is False
        assert again.json()["duplicate"] is True
        assert again.json()["checksum"] == first.json()["checksum"]
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
    assert status["received"] == [0]
    assert status["bytes"] == 1000
    assert stored_chunks(stack, video_id) == [(0, b"A" * 1000)]
    assert len(chunk_objects(stack, video_id)) == 1  # the duplicate's upload left no object behind


def test_it_refuses_different_bytes_for_a_stored_index(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, b"A" * 1000, 0).status_code == 200
        conflict = send_chunk(client, video_id, b"B" * 1000, 0)
        assert conflict.status_code == 409
        body = conflict.json()
        assert "already received with different bytes" in body["message"]
        assert body["detail"]["chunk_index"] == 0
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
    assert status["received"] == [0]
    assert status["bytes"] == 1000
    assert stored_chunks(stack, video_id) == [(0, b"A" * 1000)]  # the first bytes, untouched
    assert len(chunk_objects(stack, video_id)) == 1  # the refused bytes were not kept


def test_it_keeps_a_resend_after_finalize_harmless(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, b"\x1a\x45\xdf\xa3" + b"x" * 500, 0).status_code == 200
        assert finalize(client, video_id).status_code == 200
        video = stack.wait_for(video_id)
        late = send_chunk(client, video_id, b"\x1a\x45\xdf\xa3" + b"x" * 500, 0)
        late_other = send_chunk(client, video_id, b"\x1a\x45\xdf\xa3" + b"y" * 500, 1)
    assert late.status_code == 409 and late_other.status_code == 409
    assert "finalized" in late_other.json()["message"]
    # What was assembled stays what was sent before finalize; nothing was added after it.
    assert stored_original(stack, video) == b"\x1a\x45\xdf\xa3" + b"x" * 500
    assert [index for index, _ in stored_chunks(stack, video_id)] in ([], [0])
