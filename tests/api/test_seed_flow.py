"""The seed README's client flow, as written, against both modes."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Stack
from tests.support import fetch, make_webm, split, stored_keys, stored_original, uneven_sizes


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "seed.webm", seconds=8).read_bytes()


def test_it_works_end_to_end(stack: Stack, webm: bytes) -> None:
    assert len(webm) > 1_000_000
    with stack.client() as client:
        created = client.post("/api/record/videos/", data={"title": "Seed flow", "description": "from the README"})
        assert created.status_code == 201
        video_id = created.json()["video_id"]
        assert isinstance(video_id, int)

        for piece in split(webm, uneven_sizes(len(webm), 7)):
            # No chunk_index: the seed's clients rely on arrival order, so send one at a time.
            response = client.patch(
                "/api/record/videos/update_video_chunck",
                data={"video_id": str(video_id)},
                files={"video_chunck": ("blob", piece, "application/octet-stream")},
            )
            assert response.status_code == 200, response.text
            assert response.json()["message"] == "Chunk uploaded successfully"

        finalized = client.post("/api/record/videos/finalize_video_upload", data={"video_id": str(video_id)})
        assert finalized.status_code == 200
        assert finalized.json()["message"] == "Transcription task initiated"

    video = stack.wait_for(video_id)
    assert video["status"] == "ready", video
    assert video["title"] == "Seed flow"
    assert video["description"] == "from the README"
    assert video["video_file"].endswith(f"/videos/{video_id}/stream_video/")

    with stack.client() as client:
        listing = client.get("/api/record/videos/")
        assert listing.status_code == 200
        listed = {v["id"]: v for v in listing.json()}
        assert listed[video_id]["title"] == "Seed flow"
        assert {"id", "title", "description", "video_file", "created_at"} <= set(listed[video_id])

    # The stitch is byte-exact, in storage and through the API's download of the original.
    assert stored_original(stack, video) == webm
    original = fetch(stack, f"/api/record/videos/{video_id}/original")
    assert original.status_code == 200
    assert original.content == webm

    streamed = fetch(stack, f"/api/record/videos/{video_id}/stream_video/")
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("video/webm")
    assert streamed.content[:4] == b"\x1a\x45\xdf\xa3"  # an EBML (WebM) file
    assert int(streamed.headers["content-length"]) == len(streamed.content)


def test_it_deletes_chunks_once_ready(stack: Stack, webm: bytes) -> None:
    from tests.support import upload

    video_id = upload(stack, webm, chunk_sizes=[300_000, 700_000])
    video = stack.wait_for(video_id)
    assert video["status"] == "ready"
    prefix = f"videos/{video['public_id']}/chunks/"
    # The chunk objects go right after `ready` commits (never before: a crash in between would
    # leave a video with neither chunks nor media), so wait for that step, within a deadline.
    deadline = time.monotonic() + 30
    while (left := stored_keys(stack, prefix)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == [], f"chunk objects still stored 30 s after ready: {left}"
    if stack.mode != "cluster":
        chunk_dir = stack.data_dir / "media" / prefix
        assert not chunk_dir.exists(), f"an empty {prefix} folder stayed behind"
    assert stored_original(stack, video) == webm  # the stitched source, not the chunks, holds the bytes
    with stack.client() as client:
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
    assert status["status"] == "ready"
    assert status["accepting_chunks"] is False
