"""A chunk answered 200 survives a kill -9 of the server right after the answer.

For the embedded server (SQLite + disk) and a cluster API (PostgreSQL + moto's S3): each chunk
is sent on a raw socket and the server is SIGKILLed the moment the status line `HTTP/1.1 200`
arrives (before the client even reads the rest of the answer: no sleep, no grace). The server
is started again, and every chunk acknowledged so far must be stored and counted: its row and
its bytes (size and SHA-256 checked against storage), `GET videos/N/upload` listing it with
the right totals. After the last chunk, finalize → `ready` and the stored original is
byte-identical to the recording.

The bug this catches: an answer sent before the chunk's bytes are written or its row is
committed (a write or commit moved after the response, into a background task, a thread, an
`on_commit` hook or a response-time callback, or a buffered write not flushed by then) — the
kill lands in that window and the acknowledged chunk is missing after the restart.

A kill -9 cannot tell whether the bytes reached the disk itself (the page cache outlives the
process), so a third test watches the embedded server's system calls (strace): between reading
a chunk's request and writing its `HTTP/1.1 200`, the server must have fsynced the chunk's file,
fsynced its folder (the file's name) and synced SQLite's write-ahead log (the row's commit, with
synchronous=FULL) — in that order, bytes before row. It fails when any of the three is
dropped (fsync removed, SQLite's synchronous lowered to NORMAL/OFF, a commit after the answer),
which no kill -9 shows but a power loss would.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
from pathlib import Path

import pytest

from tests.conftest import (
    RECORDPLUS,
    Stack,
    embedded_env,
    free_port,
    fresh_postgres_database,
    fresh_rabbitmq_vhost,
    make_cluster_stack,
    require,
)
from tests.faults.test_kill_matrix import descendants
from tests.support import (
    create_video,
    finalize,
    make_webm,
    split,
    stored_chunks,
    stored_original,
    uneven_sizes,
)

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

CHUNKS = 7


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "durable.webm", seconds=6, bitrate="1500k").read_bytes()


def send_and_kill_on_200(stack: Stack, video_id: int, index: int, data: bytes) -> None:
    """PATCH chunk `index` as a raw body; SIGKILL the API as soon as its status line says 200."""
    server = next(p for p in stack.processes if p.name == "api")
    assert server.proc is not None and server.proc.poll() is None
    head = (
        f"PATCH /api/record/videos/{video_id}/update_video_chunck?chunk_index={index} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{stack.port}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", stack.port), timeout=60) as sock:
        sock.sendall(head + data)
        answer = b""
        while b"\r\n" not in answer:
            got = sock.recv(65536)
            assert got, f"chunk {index}: connection closed without an answer\n{stack.logs()}"
            answer += got
        status = answer.split(b"\r\n", 1)[0]
        if status.startswith(b"HTTP/1.1 200"):
            server.proc.send_signal(signal.SIGKILL)  # right now: before anything else happens
        else:  # not acknowledged: nothing to prove, and a failed test says why
            answer += sock.recv(65536)
    assert status.startswith(b"HTTP/1.1 200"), f"chunk {index}: {answer[:500]!r}"
    server.proc.wait(timeout=30)
    stack.processes.remove(server)


def assert_acknowledged_stored(stack: Stack, video_id: int, pieces: list[bytes], acknowledged: int) -> None:
    stored = stored_chunks(stack, video_id)  # row size and SHA-256 checked against storage
    assert [index for index, _ in stored] == list(range(acknowledged)), (
        f"after a kill -9 right after chunk {acknowledged - 1}'s 200: stored chunks {[i for i, _ in stored]}"
    )
    for index, data in stored:
        assert hashlib.sha256(data).digest() == hashlib.sha256(pieces[index]).digest(), f"chunk {index}: other bytes stored"
    with stack.client() as client:
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
    assert status["received"] == list(range(acknowledged)), status
    assert status["chunks"] == acknowledged, status
    assert status["bytes"] == sum(len(p) for p in pieces[:acknowledged]), status
    assert status["missing"] == [] and status["next_index"] == acknowledged, status


def check_every_acknowledged_chunk_survives(stack: Stack, recording: bytes) -> None:
    pieces = split(recording, uneven_sizes(len(recording), CHUNKS))
    with stack.client() as client:
        video_id = create_video(client, title="durable")
    for index, piece in enumerate(pieces):
        send_and_kill_on_200(stack, video_id, index, piece)
        stack.start_server()
        assert_acknowledged_stored(stack, video_id, pieces, index + 1)
    with stack.client() as client:
        response = finalize(client, video_id)
        assert response.status_code == 200, response.text
    video = stack.wait_for(video_id, timeout=300)
    assert video["status"] == "ready", video
    assert stored_original(stack, video) == recording


def test_it_keeps_every_acknowledged_chunk_of_the_embedded_server(tmp_path: Path, recording: bytes) -> None:
    data_dir = tmp_path / "var"
    stack = Stack(mode="embedded", env=embedded_env(data_dir), workdir=tmp_path, data_dir=data_dir)
    stack.start_server()
    try:
        check_every_acknowledged_chunk_survives(stack, recording)
    finally:
        stack.stop()


def test_it_keeps_every_acknowledged_chunk_of_a_cluster_api(tmp_path: Path, recording: bytes, moto_server: str) -> None:
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        stack = make_cluster_stack(tmp_path / "stack", database, broker, moto_server)
        try:
            check_every_acknowledged_chunk_survives(stack, recording)
        finally:
            stack.stop()


# A traced call (`strace -f -yy`): "PID name(FD<what it is>, ...". When another thread makes a
# call meanwhile, strace splits it: "PID name(FD<...>, <unfinished ...>", later
# "PID <... name resumed>the rest"; a call the kill interrupted is never resumed.
_CALL = re.compile(r"^(\d+) +(\w+)\((\d+)<((?:->|[^>])*)>(.*)$")  # a socket's "a->b" is inside
_RESUMED = re.compile(r"^(\d+) +<\.\.\. (\w+) resumed>(.*)$")
_UNFINISHED = " <unfinished ...>"


def syscalls(trace: Path) -> list[tuple[str, str, str]]:
    """(call, what its file descriptor is, the rest of the line) in the order the calls started,
    a split call joined again (its arguments and result read from both halves)."""
    found: list[tuple[str, str, str]] = []
    open_calls: dict[tuple[str, str], int] = {}  # (pid, call) → its place in `found`
    for line in trace.read_text(errors="replace").splitlines():
        if (resumed := _RESUMED.match(line)) is not None:
            place = open_calls.pop((resumed[1], resumed[2]), None)
            if place is not None:
                call, fd, rest = found[place]
                found[place] = (call, fd, rest + resumed[3])
        elif (match := _CALL.match(line)) is not None:
            rest = match[5]
            if rest.endswith(_UNFINISHED):
                rest = rest.removesuffix(_UNFINISHED)
                open_calls[(match[1], match[2])] = len(found)
            found.append((match[2], match[4], rest))
    return found


def test_it_joins_calls_strace_split(tmp_path: Path) -> None:
    """The reader of the trace itself: a request read split by another thread's call is found."""
    trace = tmp_path / "strace.txt"
    trace.write_text(
        '7 recvfrom(10<TCP:[127.0.0.1:1->127.0.0.1:2]>,  <unfinished ...>\n'
        '8 fsync(5</var/media/videos/x/chunks/a.part>) = 0\n'
        '7 <... recvfrom resumed>"PATCH /api/record/videos/1/update_video_chunck?chunk_index=0 "..., 262144, 0, NULL, NULL) = 9\n'
        '7 sendto(10<TCP:[127.0.0.1:1->127.0.0.1:2]>, "HTTP/1.1 200 OK\\r\\n"..., 163, 0, NULL, 0 <unfinished ...>\n'
    )
    calls = syscalls(trace)
    assert [(call, fd) for call, fd, _ in calls] == [
        ("recvfrom", "TCP:[127.0.0.1:1->127.0.0.1:2]"),
        ("fsync", "/var/media/videos/x/chunks/a.part"),
        ("sendto", "TCP:[127.0.0.1:1->127.0.0.1:2]"),
    ]
    assert "chunk_index=0 " in calls[0][2] and calls[0][2].endswith("= 9")
    assert '"HTTP/1.1 200' in calls[2][2]


def test_it_syncs_each_chunk_and_its_row_to_disk_before_answering(tmp_path: Path, recording: bytes) -> None:
    strace = shutil.which("strace")
    require(strace is not None, "strace (Debian strace), to watch the server's system calls")
    data_dir = tmp_path / "var"
    stack = Stack(mode="embedded", env=embedded_env(data_dir), workdir=tmp_path, data_dir=data_dir, port=free_port())
    trace = tmp_path / "strace.txt"
    watched = "trace=fsync,fdatasync,recvfrom,read,write,writev,sendto,sendmsg"
    tracer = stack.add("api", [strace, "-f", "-qq", "-yy", "-s", "96", "-e", watched, "-o", str(trace), "--",
                               RECORDPLUS, "serve", "--host", "127.0.0.1", "--port", str(stack.port)])  # fmt: skip
    pieces = split(recording, uneven_sizes(len(recording), 4))
    try:
        stack.wait_ready(stack.url, timeout=240)
        with stack.client() as client:
            video_id = create_video(client, title="synced")
            for index, piece in enumerate(pieces):
                response = client.patch(f"/api/record/videos/{video_id}/update_video_chunck?chunk_index={index}",
                                        content=piece, headers={"Content-Type": "application/octet-stream"})  # fmt: skip
                assert response.status_code == 200, response.text
    finally:
        assert tracer.proc is not None
        for pid in descendants(tracer.proc.pid):  # the server itself: strace would only detach from it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        stack.stop()

    calls = syscalls(trace)
    for index in range(len(pieces)):
        request_line = f"PATCH /api/record/videos/{video_id}/update_video_chunck?chunk_index={index} "
        start = next((n for n, (call, fd, rest) in enumerate(calls)
                      if call in ("recvfrom", "read") and fd.startswith("TCP") and request_line in rest), None)  # fmt: skip
        assert start is not None, f"chunk {index}: its request was not seen in the trace"
        answer = next((n for n in range(start, len(calls)) if calls[n][0] in ("write", "writev", "sendto", "sendmsg")
                       and calls[n][1].startswith("TCP") and '"HTTP/1.1 200' in calls[n][2]), None)  # fmt: skip
        assert answer is not None, f"chunk {index}: no 200 written after its request"
        synced = [(call, fd) for call, fd, _ in calls[start:answer] if call in ("fsync", "fdatasync")]
        chunk_file = [n for n, (_, fd) in enumerate(synced) if "/chunks/" in fd and not fd.endswith("/chunks")]
        chunk_folder = [n for n, (_, fd) in enumerate(synced) if fd.endswith("/chunks")]
        wal = [n for n, (_, fd) in enumerate(synced) if fd.endswith("recordplus.sqlite3-wal")]
        where = f"chunk {index}: syncs between its request and its 200: {synced}"
        assert chunk_file, f"{where}; the chunk's file was not fsynced"
        assert chunk_folder, f"{where}; the chunk's folder (its name) was not fsynced"
        assert wal, f"{where}; SQLite's log (the row's commit) was not synced"
        assert chunk_file[0] < max(wal) and chunk_folder[0] < max(wal), f"{where}; the row was synced before the bytes"
