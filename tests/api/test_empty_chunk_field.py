"""An empty chunk is refused naming the field the client sent it under, whichever spelling."""

from __future__ import annotations

import pytest

from tests.conftest import Stack
from tests.support import create_video


@pytest.mark.parametrize("field", ["video_chunck", "video_chunk", "video_file"])
def test_it_names_the_field_of_an_empty_chunk(embedded_stack: Stack, field: str) -> None:
    with embedded_stack.client() as client:
        video_id = create_video(client)
        response = client.patch(
            "/api/record/videos/update_video_chunck",
            data={"video_id": str(video_id), "chunk_index": "0"},
            files={field: ("blob", b"", "video/webm")},
        )
    assert response.status_code == 400, response.text
    assert "empty" in response.json()["message"]
    assert response.json()["detail"] == {"field": field}


def test_it_names_the_body_of_an_empty_raw_chunk(embedded_stack: Stack) -> None:
    with embedded_stack.client() as client:
        video_id = create_video(client)
        response = client.patch(
            f"/api/record/videos/{video_id}/update_video_chunck?chunk_index=0",
            content=b"",
            headers={"Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == {"field": "body"}


def test_it_names_video_file_for_an_empty_first_chunk(embedded_stack: Stack) -> None:
    with embedded_stack.client() as client:
        response = client.post(
            "/api/record/videos/", data={"title": "t"}, files={"video_file": ("blob", b"", "video/webm")}
        )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == {"field": "video_file"}
