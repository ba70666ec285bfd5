"""Clients in the wild spell the calls differently; every listed spelling reaches the same
handler: trailing slash or not, /api/v1/record/, the chunk field's three names, video_id in the
form, query, JSON or path, multipart or raw octet-stream bodies.

Each spelling is checked by what it stored (the Chunk rows and the bytes in storage, read behind
the API's back), not only by its status code: a spelling that answered 200 but dropped, mixed up
or mis-indexed the bytes is caught."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Stack
from tests.support import create_video, db_rows, stored_chunks

PREFIXES = ["/api/record", "/api/v1/record"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("slash", ["", "/"])
def test_it_accepts_every_chunk_spelling(stack: Stack, prefix: str, slash: str) -> None:
    with stack.client() as client:
        created = client.post(f"{prefix}/videos{slash}", data={"title": "spellings"})
        assert created.status_code == 201, created.text
        vid = created.json()["video_id"]
        calls = [
            ("form id, video_chunck", dict(url=f"{prefix}/videos/update_video_chunck{slash}", data={"video_id": vid}, files={"video_chunck": ("b", b"c0")})),
            ("form id, video_chunk", dict(url=f"{prefix}/videos/update_video_chunck{slash}", data={"video_id": vid}, files={"video_chunk": ("b", b"c1")})),
            ("form id, video_file", dict(url=f"{prefix}/videos/update_video_chunck{slash}", data={"video_id": vid}, files={"video_file": ("b", b"c2")})),
            ("query id", dict(url=f"{prefix}/videos/update_video_chunck{slash}?video_id={vid}", files={"video_chunck": ("b", b"c3")})),
            ("path id, update_video_chunck", dict(url=f"{prefix}/videos/{vid}/update_video_chunck{slash}", files={"video_chunk": ("b", b"c4")})),
            ("path id, update_video_file", dict(url=f"{prefix}/videos/{vid}/update_video_file{slash}", files={"video_chunk": ("b", b"c5")})),
            ("raw body, query id", dict(url=f"{prefix}/videos/update_video_chunck{slash}?video_id={vid}&chunk_index=6", content=b"c6", headers={"Content-Type": "application/octet-stream"})),
            ("raw body, path id", dict(url=f"{prefix}/videos/{vid}/update_video_file{slash}", content=b"c7", headers={"Content-Type": "application/octet-stream"})),
        ]
        for label, kwargs in calls:
            response = client.request("PATCH", **kwargs)
            assert response.status_code == 200, (label, response.text)
            assert response.json()["message"] == "Chunk uploaded successfully"
        status = client.get(f"{prefix}/videos/{vid}/upload{slash}").json()
        assert status["received"] == list(range(8))
        assert status["bytes"] == 16
        # Each spelling's bytes, stored once, under the index of its arrival (or its chunk_index).
        assert stored_chunks(stack, vid) == [(i, f"c{i}".encode()) for i in range(8)]
        assert client.get(f"{prefix}/videos/{vid}{slash}").json()["title"] == "spellings"
        assert any(v["id"] == vid for v in client.get(f"{prefix}/videos{slash}").json())


@pytest.mark.parametrize(
    "how",
    ["form", "urlencoded", "query", "json", "path"],
)
def test_it_accepts_every_finalize_spelling(stack: Stack, how: str) -> None:
    with stack.client() as client:
        vid = create_video(client)
        assert client.patch(f"/api/record/videos/{vid}/update_video_chunck/", files={"video_chunck": ("b", b"x")}).status_code == 200
        if how == "form":
            response = client.post("/api/record/videos/finalize_video_upload", files={"video_id": (None, str(vid))})
        elif how == "urlencoded":
            response = client.post("/api/v1/record/videos/finalize_video_upload/", data={"video_id": vid})
        elif how == "query":
            response = client.post(f"/api/record/videos/finalize_video_upload/?video_id={vid}")
        elif how == "json":
            response = client.post(
                "/api/record/videos/finalize_video_upload",
                content=json.dumps({"video_id": vid}),
                headers={"Content-Type": "application/json"},
            )
        else:
            response = client.post(f"/api/v1/record/videos/{vid}/finalize_video_upload/")
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Transcription task initiated"
    # The row itself was finalized (and only this one), whichever spelling carried the id.
    ((status, finalized_at),) = db_rows(stack, "SELECT status, finalized_at FROM videos_video WHERE id = %s", (vid,))
    assert status != "uploading" and finalized_at is not None, (status, finalized_at)


def test_it_refuses_contradicting_ids(stack: Stack) -> None:
    with stack.client() as client:
        vid = create_video(client)
        response = client.patch(
            f"/api/record/videos/{vid}/update_video_chunck/", data={"video_id": vid + 1}, files={"video_chunck": ("b", b"x")}
        )
    assert response.status_code == 400
    assert "differ" in response.json()["message"]
    # Neither video received the chunk.
    assert stored_chunks(stack, vid) == [] and stored_chunks(stack, vid + 1) == []


def test_it_answers_head_wherever_get_works(stack: Stack) -> None:
    with stack.client() as client:
        vid = create_video(client)
        for path in (f"/api/record/videos/{vid}", "/api/record/videos/", f"/api/v1/record/videos/{vid}/upload/"):
            # (the transcript's HEAD is checked below: it answers 404 until one is requested)
            get = client.get(path)
            head = client.head(path)
            assert head.status_code == get.status_code == 200, path
            assert head.content == b""
            assert head.headers["content-type"] == get.headers["content-type"]
        missing_get = client.get(f"/api/record/videos/{vid}/transcript")
        missing_head = client.head(f"/api/record/videos/{vid}/transcript")
        assert missing_head.status_code == missing_get.status_code != 405
