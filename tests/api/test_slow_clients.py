"""Slow clients are dropped by `recordplus serve`: a connection whose request headers never
complete (slowloris) is closed after HTTP_HEADER_TIMEOUT_SECONDS with a 408, a request body that
stalls gets a 408 after HTTP_BODY_TIMEOUT_SECONDS and stores nothing, and other clients are
served all the while."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Stack, make_embedded_stack
from tests.support import create_video, send_chunk

SLOW_SOCKETS = 100
# How long the test waits for the server to act; the timeouts themselves are 2 s.
DEADLINE = 90.0


@pytest.fixture(scope="module")
def strict_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = make_embedded_stack(
        tmp_path_factory.mktemp("slow-clients"), HTTP_HEADER_TIMEOUT_SECONDS="2", HTTP_BODY_TIMEOUT_SECONDS="2"
    )
    yield stack
    stack.stop()


def read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """Everything the server sends until it closes the connection; fails at the deadline."""
    received = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the server kept the connection open; it sent {received[:200]!r}")
        sock.settimeout(remaining)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data


def test_it_closes_connections_whose_headers_never_complete(strict_stack: Stack) -> None:
    sockets = []
    try:
        for _ in range(SLOW_SOCKETS):
            sock = socket.create_connection(("127.0.0.1", strict_stack.port), timeout=10)
            sock.sendall(b"GET /api/record/videos/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            sockets.append(sock)
        # While they hang, an ordinary client is served (and its data stored).
        with strict_stack.client() as client:
            video_id = create_video(client, title="served while slowloris waits")
            assert client.get(f"/api/record/videos/{video_id}").json()["title"] == "served while slowloris waits"
        deadline = time.monotonic() + DEADLINE
        answers = [read_until_closed(sock, deadline) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers), {a[:40] for a in answers}
    assert b"request headers not received within 2 s" in answers[0]
    strict_stack.assert_alive()


def test_it_closes_an_idle_connection_that_never_sends_a_request(strict_stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", strict_stack.port), timeout=10) as sock:
        assert read_until_closed(sock, time.monotonic() + DEADLINE).startswith(b"HTTP/1.1 408 ")


def test_it_times_out_the_headers_of_a_second_request_on_a_kept_alive_connection(strict_stack: Stack) -> None:
    """uvicorn's keep-alive timer is cancelled by the first byte of the next request: a client
    must not be able to keep a connection by starting requests it never finishes."""
    with socket.create_connection(("127.0.0.1", strict_stack.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 12")
        rest = read_until_closed(sock, time.monotonic() + DEADLINE)
    assert b"HTTP/1.1 408 " in rest


def test_it_answers_408_to_a_stalled_body_and_stores_nothing(strict_stack: Stack) -> None:
    with strict_stack.client() as client:
        video_id = create_video(client)
    head = (
        f"PATCH /api/record/videos/{video_id}/update_video_chunck?chunk_index=0 HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", strict_stack.port), timeout=10) as sock:
        sock.sendall(head + b"\x1a\x45\xdf\xa3" * 1000)  # 4000 of the 100000 bytes, then nothing
        answer = read_until_closed(sock, time.monotonic() + DEADLINE)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b"request body stalled" in answer
    with strict_stack.client() as client:
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
        assert (status["chunks"], status["bytes"], status["received"]) == (0, 0, [])
        # The connection was dropped, not the upload: the same chunk sent whole is taken.
        assert send_chunk(client, video_id, b"\x1a\x45\xdf\xa3" * 1000, 0).status_code == 200
        assert client.get(f"/api/record/videos/{video_id}/upload").json()["bytes"] == 4000
    assert not list(Path(strict_stack.data_dir or ".").rglob("*.partial"))
