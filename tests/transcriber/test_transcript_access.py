"""Who may read a transcript, and what the endpoint says before there is one."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.support import create_video, fetch, upload
from tests.transcriber.fixtures import make_video


@pytest.fixture(scope="module")
def short_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_video(None, tmp_path_factory.mktemp("videos") / "short.webm", seconds=2).read_bytes()


def test_it_hides_another_users_transcript(embedded_stack: Stack, short_video: bytes) -> None:
    alice = embedded_stack.create_user("alice-transcripts")
    bob = embedded_stack.create_user("bob-transcripts")
    video_id = upload(embedded_stack, short_video, token=alice)
    embedded_stack.wait_for(video_id, token=alice)
    for fmt in ("json", "vtt"):
        response = fetch(embedded_stack, f"/api/record/videos/{video_id}/transcript?format={fmt}", token=bob)
        assert response.status_code == 404
        assert response.json()["message"]
    with embedded_stack.client(bob) as client:
        assert client.post(f"/api/record/videos/{video_id}/transcript").status_code == 404


def test_it_answers_404_before_a_transcript_is_requested(embedded_stack: Stack) -> None:
    with embedded_stack.client() as client:
        video_id = create_video(client)
        response = client.get(f"/api/record/videos/{video_id}/transcript")
        assert response.status_code == 404
        assert "no transcript" in response.json()["message"]
        # Nothing to transcribe until the upload is finished.
        rerun = client.post(f"/api/record/videos/{video_id}/transcript")
        assert rerun.status_code == 409
        assert client.get("/api/record/videos/999999/transcript").status_code == 404


def test_it_rejects_unknown_formats(embedded_stack: Stack) -> None:
    with embedded_stack.client() as client:
        video_id = create_video(client)
        response = client.get(f"/api/record/videos/{video_id}/transcript?format=docx")
        assert response.status_code == 400
        assert response.json()["message"]
