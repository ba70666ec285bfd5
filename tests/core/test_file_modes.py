"""Recordings are private on disk: what RecordPlus creates is readable by its own user only
(files 0600, folders 0700), whatever the umask it was started with."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from recordplus.core.storage.base import Piece
from recordplus.core.storage.filesystem import FileStore
from tests.conftest import make_embedded_stack
from tests.support import create_video, make_webm, send_chunk


def modes_open_to_others(root: Path) -> list[str]:
    """Every file or folder under `root` (and root) that a group or other user could read."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)} {stat.filemode(mode)}")
    return found


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default umask (group and others may read), as a careless caller would have."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_it_writes_private_objects_and_folders_in_process(tmp_path: Path, permissive_umask: None) -> None:
    store = FileStore(tmp_path / "media")
    store.ensure_ready()
    store.write("videos/7/chunks/00000000", io.BytesIO(b"a" * 100))
    store.write("videos/7/chunks/00000001", io.BytesIO(b"b" * 50))
    pieces = [Piece(key=f"videos/7/chunks/0000000{i}", size=size) for i, size in ((0, 100), (1, 50))]
    store.concat(pieces, "videos/7/original.webm")
    store.download("videos/7/original.webm", tmp_path / "media/scratch/copy.webm")
    assert (tmp_path / "media/videos/7/original.webm").read_bytes() == b"a" * 100 + b"b" * 50
    assert modes_open_to_others(tmp_path / "media") == []


def test_it_keeps_a_served_recording_private_on_disk(tmp_path: Path, permissive_umask: None) -> None:
    """The real server: data folder, SQLite database, chunks, the assembled video, its
    thumbnail and audio, and the secrets files."""
    video = make_webm(tmp_path / "in" / "clip.webm", seconds=2, size="320x240", bitrate="500k")
    stack = make_embedded_stack(tmp_path / "stack")
    try:
        with stack.client() as client:
            video_id = create_video(client, title="private")
            assert send_chunk(client, video_id, video.read_bytes(), 0).status_code == 200
            chunks_dir = stack.data_dir / "media"  # type: ignore[operator]
            assert any(p.is_file() for p in chunks_dir.rglob("*")), "the chunk was not stored under media/"
            assert modes_open_to_others(stack.data_dir) == []  # type: ignore[arg-type]
            response = client.post("/api/record/videos/finalize_video_upload", data={"video_id": str(video_id)})
            assert response.status_code == 200, response.text
        detail = stack.wait_for(video_id)
        assert detail["status"] == "ready", detail
    finally:
        stack.stop()
    data_dir: Path = stack.data_dir  # type: ignore[assignment]
    assert (data_dir / "recordplus.sqlite3").is_file()
    assert sum(1 for p in (data_dir / "media").rglob("*") if p.is_file()) >= 2  # video + thumbnail at least
    assert modes_open_to_others(data_dir) == []
