"""The original extension's upload, at the HTTP level (the browser test runs its real code:
tests/e2e/test_original_extension.py).

What nabil2i/recordplusext does at stop: MediaRecorder ran without a timeslice, so it holds one
WebM blob; it slices it into 1 MiB pieces, sends piece 0 with `POST videos/` as `video_file`,
then fires every other piece at once as `PATCH videos/{id}/update_video_file/` (field
`video_chunk`, no chunk_index, not awaited) and immediately `POST
videos/{id}/finalize_video_upload/` with no body. The pieces land in any order — the short last
one usually first — and after finalize. Events are ordered here by waiting for them (a piece's
body is held until finalize has answered, then released in the worst order), never by sleeps.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Stack
from tests.support import fetch, make_webm, split

MiB = 1024 * 1024


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    data = make_webm(tmp_path_factory.mktemp("media") / "extension.webm", seconds=5, size="1280x720", bitrate="8M").read_bytes()
    assert len(data) > 3 * MiB, "the recording must give at least four 1 MiB pieces"
    return data


def multipart(field: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="1700000000000_abcdefgh.webm"\r\n'
        "Content-Type: video/webm\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def held_body(body: bytes, gate: threading.Event) -> Iterator[bytes]:
    """Send the first bytes, then hold the rest until `gate` opens: a request in flight."""
    yield body[:100]
    assert gate.wait(timeout=60), "the test never released this piece"
    yield body[100:]


def create_with_first_piece(stack: Stack, first: bytes) -> int:
    with stack.client() as client:
        created = client.post(
            "/api/record/videos/",
            data={"title": "Video Title", "description": "Video Description"},
            files={"video_file": ("1700000000000_abcdefgh.webm", first, "video/webm")},
        )
    assert created.status_code == 201, created.text
    return created.json()["video_id"]


def test_it_puts_pieces_fired_at_once_back_in_order(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [MiB] * (len(webm) // MiB))
    assert len(pieces) >= 4 and len(pieces[-1]) < MiB
    video_id = create_with_first_piece(stack, pieces[0])

    gates = {index: threading.Event() for index in range(1, len(pieces))}
    results: dict[int, httpx.Response] = {}

    def send(index: int) -> None:
        body, ctype = multipart("video_chunk", pieces[index])
        with stack.client() as client:
            results[index] = client.patch(
                f"/api/record/videos/{video_id}/update_video_file/",
                content=held_body(body, gates[index]),
                headers={"Content-Type": ctype, "Content-Length": str(len(body))},
            )

    threads = [threading.Thread(target=send, args=(index,)) for index in gates]
    for thread in threads:
        thread.start()
    with stack.client() as client:
        finalized = client.post(f"/api/record/videos/{video_id}/finalize_video_upload/")
    assert finalized.status_code == 200, finalized.text
    assert finalized.json()["message"] == "Transcription task initiated"
    assert not results, "every piece must still have been in flight when finalize answered"

    # The worst arrival order: the short last piece first, then backwards.
    for index, thread in reversed(list(zip(gates, threads, strict=True))):
        gates[index].set()
        thread.join(timeout=60)
        assert results[index].status_code == 200, results[index].text
        assert results[index].json()["chunk_index"] == len(pieces) - index  # numbered by arrival

    video = stack.wait_for(video_id)
    assert video["status"] == "ready", video
    assert fetch(stack, f"/api/record/videos/{video_id}/original").content == webm
    assert video["duration"] == pytest.approx(5.0, abs=0.3)


def test_it_fails_readably_when_a_piece_is_missing(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [MiB] * (len(webm) // MiB))
    video_id = create_with_first_piece(stack, pieces[0])
    with stack.client() as client:
        for index in (3, 1):  # piece 2 never arrives
            body, ctype = multipart("video_chunk", pieces[index])
            sent = client.patch(f"/api/record/videos/{video_id}/update_video_file/", content=body, headers={"Content-Type": ctype})
            assert sent.status_code == 200, sent.text
        assert client.post(f"/api/record/videos/{video_id}/finalize_video_upload/").status_code == 200
    video = stack.wait_for(video_id)
    assert video["status"] == "failed", video  # never ready with corrupt content
    assert "piece" in video["error"] and video["error"].startswith(("The recording", "none of", "no order", "piece")), video["error"]


def test_it_refuses_a_chunk_once_assembly_has_begun(stack: Stack, webm: bytes) -> None:
    pieces = split(webm, [len(webm) // 2])
    video_id = create_with_first_piece(stack, pieces[0])
    with stack.client() as client:
        assert client.post(f"/api/record/videos/{video_id}/finalize_video_upload/").status_code == 200
        video = stack.wait_for(video_id)  # the settle window closed and assembly ran
        late = client.patch(
            f"/api/record/videos/{video_id}/update_video_file/", files={"video_chunk": ("blob", pieces[1], "video/webm")}
        )
    assert late.status_code == 409, late.text
    assert "finalized" in late.json()["message"]
    assert fetch(stack, f"/api/record/videos/{video_id}/original").content == pieces[0]
    # Half a recording is not whole: it must not be ready.
    assert video["status"] == "failed", video
