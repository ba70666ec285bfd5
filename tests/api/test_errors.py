"""Every error a client can cause is a 4xx JSON body with a clear message, and leaves stored
data as it was — checked behind the API's back: the Video and Chunk rows in the database and
the objects in storage, not only the status codes."""

from __future__ import annotations

import httpx

from tests.conftest import TEST_MAX_CHUNK_BYTES, Stack
from tests.support import create_video, send_chunk, stored_chunks, stored_keys, video_public_id, video_row_count


def chunk_objects(stack: Stack, video_id: int) -> list[str]:
    return stored_keys(stack, f"videos/{video_public_id(stack, video_id)}/chunks/")


def assert_error(response: httpx.Response, status: int, words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"message", "detail"}
    assert words in body["message"], body
    return body


def upload_state(client: httpx.Client, video_id: int) -> dict:
    return client.get(f"/api/record/videos/{video_id}/upload").json()


def test_it_requires_video_id(stack: Stack) -> None:
    with stack.client() as client:
        response = client.patch("/api/record/videos/update_video_chunck", files={"video_chunck": ("b", b"x")})
        body = assert_error(response, 400, "video_id is required")
        assert body["detail"] == {"field": "video_id"}
        assert_error(client.post("/api/record/videos/finalize_video_upload"), 400, "video_id is required")


def test_it_rejects_a_non_integer_video_id(stack: Stack) -> None:
    with stack.client() as client:
        response = client.patch(
            "/api/record/videos/update_video_chunck", data={"video_id": "abc"}, files={"video_chunck": ("b", b"x")}
        )
        assert_error(response, 400, "video_id must be an integer")
        assert_error(client.get("/api/record/videos/abc"), 400, "invalid request")


def test_it_answers_404_for_unknown_videos(stack: Stack) -> None:
    with stack.client() as client:
        for response in (
            client.get("/api/record/videos/987654321"),
            client.get("/api/record/videos/987654321/upload"),
            client.get("/api/record/videos/987654321/stream_video/"),
            send_chunk(client, 987654321, b"x", 0),
            client.post("/api/record/videos/finalize_video_upload", data={"video_id": "987654321"}),
        ):
            assert_error(response, 404, "video 987654321 not found")


def test_it_limits_the_title(stack: Stack) -> None:
    with stack.client() as client:
        before = video_row_count(stack)
        assert_error(client.post("/api/record/videos/", data={"title": "x" * 256}), 400, "at most 255")
        assert_error(client.post("/api/record/videos/", data={"description": "no title"}), 400, "title is required")
        assert video_row_count(stack) == before  # no row for a refused create
        ok = client.post("/api/record/videos/", data={"title": "x" * 255})
        assert ok.status_code == 201
        assert video_row_count(stack) == before + 1


def test_it_rejects_an_empty_chunk_and_keeps_the_others(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, b"first", 0).status_code == 200
        assert_error(send_chunk(client, video_id, b"", 1), 400, "empty")
        assert_error(
            client.patch("/api/record/videos/update_video_chunck", data={"video_id": str(video_id)}),
            400,
            "no chunk in the request",
        )
        state = upload_state(client, video_id)
    assert state["received"] == [0]
    assert state["bytes"] == 5
    assert stored_chunks(stack, video_id) == [(0, b"first")]
    assert len(chunk_objects(stack, video_id)) == 1


def test_it_answers_413_for_an_oversize_chunk(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert send_chunk(client, video_id, b"first", 0).status_code == 200
        body = assert_error(send_chunk(client, video_id, b"\0" * (TEST_MAX_CHUNK_BYTES + 1), 1), 413, "limit")
        assert body["detail"]["max_chunk_bytes"] == TEST_MAX_CHUNK_BYTES
        # A raw body far past the limit is refused from its Content-Length, before it is read,
        # with CORS headers so an extension can read why.
        origin = "chrome-extension://" + "a" * 32
        huge = client.patch(
            f"/api/record/videos/{video_id}/update_video_chunck",
            content=b"\0" * (TEST_MAX_CHUNK_BYTES + 2 * 1024 * 1024),
            headers={"Content-Type": "application/octet-stream", "Origin": origin},
        )
        assert_error(huge, 413, "at most")
        assert huge.headers["access-control-allow-origin"] == origin
        state = upload_state(client, video_id)
    assert state["received"] == [0]
    # Neither oversize body left a row or an object; the first chunk is intact.
    assert stored_chunks(stack, video_id) == [(0, b"first")]
    assert len(chunk_objects(stack, video_id)) == 1


def test_it_rejects_malformed_multipart(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        response = client.patch(
            "/api/record/videos/update_video_chunck",
            content=b"--not-the-boundary\r\nrubbish",
            headers={"Content-Type": "multipart/form-data"},
        )
        assert_error(response, 400, "multipart")
        response = client.post(
            "/api/record/videos/finalize_video_upload",
            content=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert_error(response, 400, "malformed JSON")
        assert upload_state(client, video_id)["received"] == []
    assert stored_chunks(stack, video_id) == [] and chunk_objects(stack, video_id) == []


def test_it_rejects_a_negative_chunk_index(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert_error(send_chunk(client, video_id, b"x", -1), 400, "chunk_index must be 0 or more")
    assert stored_chunks(stack, video_id) == [] and chunk_objects(stack, video_id) == []


def test_it_answers_405_as_json_for_a_wrong_method(stack: Stack) -> None:
    with stack.client() as client:
        body = assert_error(client.get("/api/record/videos/update_video_chunck"), 405, "not allowed")
        assert "PATCH" in body["detail"]["allow"]
        assert_error(client.delete("/api/record/videos/"), 405, "not allowed")
        assert_error(client.put("/api/record/videos/1/finalize_video_upload/"), 405, "not allowed")


def test_it_answers_404_as_json_for_unknown_paths(stack: Stack) -> None:
    with stack.client() as client:
        assert_error(client.get("/api/record/nope"), 404, "no such endpoint")


def test_it_refuses_to_stream_a_video_that_is_not_ready(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert_error(client.get(f"/api/record/videos/{video_id}/stream_video/"), 409, "not ready")


def test_it_bounds_chunk_index(stack: Stack) -> None:
    with stack.client() as client:
        video_id = create_video(client)
        assert_error(send_chunk(client, video_id, b"x", 10_000), 400, "below 10000")
        for junk in ("9223372036854775808", "1" * 40, "1_0", "\u0661", "1.5", "1e3"):
            response = client.patch(
                "/api/record/videos/update_video_chunck",
                data={"video_id": str(video_id), "chunk_index": junk},
                files={"video_chunck": ("b", b"x")},
            )
            assert_error(response, 400, "chunk_index")
        assert_error(client.get("/api/record/videos/99999999999999999999999"), 404, "not found")
        state = upload_state(client, video_id)
    assert state["received"] == []
    assert state["missing"] == []
    assert stored_chunks(stack, video_id) == [] and chunk_objects(stack, video_id) == []


def test_it_rejects_hostile_json_and_text(stack: Stack) -> None:
    with stack.client() as client:
        before = video_row_count(stack)
        json_headers = {"Content-Type": "application/json"}
        assert_error(client.post("/api/record/videos/", content=b"[" * 60_000, headers=json_headers), 400, "malformed JSON")
        assert_error(client.post("/api/record/videos/", content=b'{"title": "\\ud800"}', headers=json_headers), 400, "cannot be stored")
        assert_error(client.post("/api/record/videos/", content=b'{"title": "a\\u0000b"}', headers=json_headers), 400, "cannot be stored")
        big = b'{"title": "' + b"x" * 70_000 + b'"}'
        assert_error(client.post("/api/record/videos/", content=big, headers=json_headers), 413, "JSON bodies")
        assert_error(client.post("/api/record/videos/", content=b'{"video_id": null, "title": 5}', headers=json_headers), 400, "title must be a string")
    assert video_row_count(stack) == before


def test_it_keeps_nothing_of_a_refused_create(stack: Stack) -> None:
    with stack.client() as client:
        before = [v["id"] for v in client.get("/api/record/videos/").json()]
        rows_before = video_row_count(stack)
        empty = client.post("/api/record/videos/", data={"title": "x"}, files={"video_file": ("b", b"")})
        assert_error(empty, 400, "empty")
        huge = client.post(
            "/api/record/videos/", data={"title": "x"}, files={"video_file": ("b", b"\0" * (TEST_MAX_CHUNK_BYTES + 1))}
        )
        assert_error(huge, 413, "limit")
        assert [v["id"] for v in client.get("/api/record/videos/").json()] == before
    assert video_row_count(stack) == rows_before  # no half-made video row either


def test_it_asks_for_the_length_of_a_chunked_multipart_body(stack: Stack) -> None:
    def body():  # noqa: ANN202 - a generator makes httpx send Transfer-Encoding: chunked
        yield b"--b\r\nContent-Disposition: form-data; name=\"video_id\"\r\n\r\n1\r\n--b--\r\n"

    with stack.client() as client:
        response = client.post(
            "/api/record/videos/finalize_video_upload",
            content=body(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    assert_error(response, 411, "Content-Length")


def test_it_stops_an_oversize_body_sent_without_a_length(stack: Stack) -> None:
    sent = 0

    def body():  # noqa: ANN202 - a generator makes httpx send Transfer-Encoding: chunked
        nonlocal sent
        piece = b"\0" * (1024 * 1024)
        for _ in range(1024):  # 1 GiB unless the server stops it
            sent += len(piece)
            yield piece

    with stack.client() as client:
        video_id = create_video(client)
        try:
            response = client.patch(
                f"/api/record/videos/{video_id}/update_video_chunck",
                content=body(),
                headers={"Content-Type": "application/octet-stream"},
            )
        except httpx.HTTPError:
            response = None  # the server may close the connection while the client still sends
        if response is not None:
            assert_error(response, 413, "larger than")
        # Stopped near the limit, not after the whole gigabyte was taken in.
        assert sent < TEST_MAX_CHUNK_BYTES + 128 * 1024 * 1024, sent
        assert upload_state(client, video_id)["received"] == []
        assert send_chunk(client, video_id, b"still works", 0).status_code == 200
    # Nothing of the stopped body was kept, in the database or in storage.
    assert stored_chunks(stack, video_id) == [(0, b"still works")]
    assert len(chunk_objects(stack, video_id)) == 1
