"""Embedded mode: the in-memory broker forgets on restart; the database does not. Work that
was finalized but not assembled is picked up again at start-up, and open uploads continue."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import Stack, embedded_env
from tests.support import create_video, fetch, finalize, make_webm, send_chunk, split


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "restart.webm", seconds=3).read_bytes()


def test_it_finishes_work_interrupted_by_a_restart(tmp_path: Path, webm: bytes) -> None:
    data_dir = tmp_path / "var"
    # A long settle window keeps the assembly from starting before the kill.
    stack = Stack(mode="embedded", env=embedded_env(data_dir, FINALIZE_SETTLE_SECONDS="30"), workdir=tmp_path, data_dir=data_dir)
    stack.start_server()
    first, second = split(webm, [len(webm) // 2])
    try:
        with stack.client() as client:
            finalized_id = create_video(client, title="finalized before the crash")
            assert send_chunk(client, finalized_id, webm, 0).status_code == 200
            assert finalize(client, finalized_id).status_code == 200
            open_id = create_video(client, title="still uploading")
            assert send_chunk(client, open_id, first, 0).status_code == 200
            assert client.get(f"/api/record/videos/{finalized_id}").json()["status"] == "assembling"
    finally:
        stack.stop(signal.SIGKILL)

    stack.env["FINALIZE_SETTLE_SECONDS"] = "0.5"
    stack.start_server()
    try:
        video = stack.wait_for(finalized_id, timeout=120)
        assert video["status"] == "ready", video
        assert fetch(stack, f"/api/record/videos/{finalized_id}/original").content == webm
        with stack.client() as client:
            assert client.get(f"/api/record/videos/{open_id}/upload").json()["received"] == [0]
            assert send_chunk(client, open_id, second, 1).status_code == 200
            assert finalize(client, open_id).status_code == 200
        assert stack.wait_for(open_id)["status"] == "ready"
        assert fetch(stack, f"/api/record/videos/{open_id}/original").content == webm
    finally:
        stack.stop()
