"""The original extension's flow: first chunk with the create call, later chunks fired without
waiting for each other, and finalize that may overtake the last chunk requests."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import TEST_SETTLE_SECONDS, Stack
from tests.support import fetch, make_webm, split


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "extension.webm", seconds=5).read_bytes()


def multipart(field: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"blob\"\r\n"
        "Content-Type: video/webm\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def slow_body(body: bytes, pause: float) -> Iterator[bytes]:
    """Send half the body, stall, then the rest: a request still in flight when finalize lands."""
    half = len(body) // 2
    yield body[:half]
    time.sleep(pause)
    yield body[half:]


def test_it_accepts_chunks_still_in_flight_at_finalize(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [len(webm) // 5] * 4)
    assert len(pieces) == 5
    with stack.client() as client:
        created = client.post(
            "/api/record/videos/",
            data={"title": "Extension", "description": "original client"},
            files={"video_file": ("blob", pieces[0], "video/webm")},
        )
        assert created.status_code == 201, created.text
        video_id = created.json()["video_id"]

    results: dict[int, httpx.Response] = {}
    finished_at: dict[int, float] = {}

    def send(index: int, data: bytes, pause: float = 0.0) -> None:
        body, ctype = multipart("video_chunk", data)
        content = slow_body(body, pause) if pause else body
        with stack.client() as client:
            results[index] = client.patch(
                f"/api/record/videos/{video_id}/update_video_file/",
                content=content,
                headers={"Content-Type": ctype, "Content-Length": str(len(body))},
            )
        finished_at[index] = time.monotonic()

    threads = []
    for index, piece in enumerate(pieces[1:], start=1):
        last = index == len(pieces) - 1
        thread = threading.Thread(target=send, args=(index, piece, 0.8 if last else 0.0))
        thread.start()
        threads.append(thread)
        time.sleep(0.15)  # a recorder emits its chunks over time; the client does not wait for answers

    with stack.client() as client:
        finalized = client.post(f"/api/record/videos/{video_id}/finalize_video_upload/")
    finalize_answered = time.monotonic()
    assert finalized.status_code == 200, finalized.text
    assert finalized.json()["message"] == "Transcription task initiated"
    for thread in threads:
        thread.join(timeout=60)

    assert all(r.status_code == 200 for r in results.values()), {i: r.text for i, r in results.items()}
    last = len(pieces) - 1
    assert finished_at[last] > finalize_answered, "the last chunk should still have been in flight at finalize"

    video = stack.wait_for(video_id)
    assert video["status"] == "ready", video
    original = fetch(stack, f"/api/record/videos/{video_id}/original")
    assert original.content == webm


def test_it_refuses_a_chunk_after_the_settle_window(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [len(webm) // 2])
    with stack.client() as client:
        created = client.post(
            "/api/record/videos/", data={"title": "late"}, files={"video_file": ("blob", pieces[0], "video/webm")}
        )
        video_id = created.json()["video_id"]
        assert client.post(f"/api/record/videos/{video_id}/finalize_video_upload/").status_code == 200
        time.sleep(TEST_SETTLE_SECONDS + 0.5)
        late = client.patch(
            f"/api/record/videos/{video_id}/update_video_file/", files={"video_chunk": ("blob", pieces[1], "video/webm")}
        )
    assert late.status_code == 409, late.text
    assert "finalized" in late.json()["message"]
    video = stack.wait_for(video_id)
    original = fetch(stack, f"/api/record/videos/{video_id}/original")
    assert original.content == pieces[0]
    assert video["status"] in ("ready", "failed")
