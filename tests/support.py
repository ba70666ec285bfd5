"""Helpers the tests share: real media made with ffmpeg, chunking, and upload flows."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Stack, require


def ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    require(path is not None, "ffmpeg (Debian package ffmpeg)")
    return path  # type: ignore[return-value]


def make_webm(path: Path, *, seconds: float = 6, size: str = "640x360", bitrate: str = "3M") -> Path:
    """A real VP8/Opus WebM of a moving test pattern with a tone: a few MB."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            ffmpeg(), "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(seconds),
            "-c:v", "libvpx", "-b:v", bitrate, "-deadline", "realtime", "-cpu-used", "8",
            "-c:a", "libopus", "-b:a", "64k",
            str(path),
        ],
        check=True,
        timeout=300,
    )
    return path


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    """Cut `data` into pieces of the given sizes, the last piece taking the rest."""
    pieces, offset = [], 0
    for size in sizes:
        if offset >= len(data):
            break
        pieces.append(data[offset : offset + size])
        offset += size
    if offset < len(data):
        pieces.append(data[offset:])
    return pieces


def uneven_sizes(total: int, count: int) -> list[int]:
    """Deliberately irregular chunk sizes (none aligned to anything) that add up to `total`."""
    weights = [((i * 7919) % 13) + 3 for i in range(count)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights[:-1]]
    sizes.append(total - sum(sizes))
    return sizes


def create_video(client: httpx.Client, title: str = "test", **files: Any) -> int:
    response = client.post("/api/record/videos/", data={"title": title, "description": "made by a test"}, files=files or None)
    assert response.status_code == 201, response.text
    return response.json()["video_id"]


def send_chunk(client: httpx.Client, video_id: int, data: bytes, index: int | None = None) -> httpx.Response:
    form: dict[str, Any] = {"video_id": str(video_id)}
    if index is not None:
        form["chunk_index"] = str(index)
    return client.patch(
        "/api/record/videos/update_video_chunck", data=form, files={"video_chunck": ("blob", data, "video/webm")}
    )


def finalize(client: httpx.Client, video_id: int) -> httpx.Response:
    return client.post("/api/record/videos/finalize_video_upload", data={"video_id": str(video_id)})


def upload(stack: Stack, data: bytes, *, chunk_sizes: list[int] | None = None, token: str | None = None) -> int:
    """The seed flow with explicit indexes: create, send each chunk, finalize; returns the id."""
    with stack.client(token) as client:
        video_id = create_video(client)
        for index, piece in enumerate(split(data, chunk_sizes or [len(data)])):
            response = send_chunk(client, video_id, piece, index)
            assert response.status_code == 200, response.text
        response = finalize(client, video_id)
        assert response.status_code == 200, response.text
    return video_id


def fetch(stack: Stack, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    """GET following redirects (the cluster stack answers media with a presigned S3 URL)."""
    with stack.client(token, follow_redirects=True) as client:
        return client.get(path, **kwargs)


def stored_original(stack: Stack, video: dict[str, Any]) -> bytes:
    """The stitched upload as it sits in storage (read behind the API's back)."""
    key = f"videos/{video['public_id']}/source.bin"
    if stack.mode == "cluster":
        return stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return (stack.data_dir / "media" / key).read_bytes()


def db_rows(stack: Stack, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of a query on the stack's own database, read behind the API's back (`%s` params)."""
    if stack.mode == "cluster":
        import psycopg

        with psycopg.connect(stack.env["DATABASE_URL"]) as conn:
            return [tuple(row) for row in conn.execute(sql, params).fetchall()]
    import sqlite3

    conn = sqlite3.connect(stack.data_dir / "recordplus.sqlite3", timeout=30)
    try:
        return [tuple(row) for row in conn.execute(sql.replace("%s", "?"), params).fetchall()]
    finally:
        conn.close()


def stored_object(stack: Stack, key: str) -> bytes:
    """An object's bytes as they sit in the stack's storage (S3 bucket or media folder)."""
    if stack.mode == "cluster":
        return stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return (stack.data_dir / "media" / key).read_bytes()


def stored_chunks(stack: Stack, video_id: int) -> list[tuple[int, bytes]]:
    """(index, stored bytes) of each Chunk row of the video, by index; each row's size and
    checksum (SHA-256) are checked against the bytes in storage."""
    import hashlib

    chunks = []
    rows = db_rows(stack, 'SELECT "index", size, checksum, key FROM videos_chunk WHERE video_id = %s ORDER BY "index"', (video_id,))
    for index, size, checksum, key in rows:
        data = stored_object(stack, key)
        assert len(data) == size, f"chunk {index}: row says {size} bytes, storage holds {len(data)}"
        assert checksum == hashlib.sha256(data).hexdigest(), f"chunk {index}: the stored bytes do not match the row's SHA-256"
        chunks.append((index, data))
    return chunks


def stored_keys(stack: Stack, prefix: str) -> list[str]:
    """Every object key under `prefix` in the stack's storage, sorted."""
    if stack.mode == "cluster":
        keys, token = [], None
        while True:
            page = stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix, **({"ContinuationToken": token} if token else {}))
            keys += [item["Key"] for item in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return sorted(keys)
    media = stack.data_dir / "media"
    return sorted(str(p.relative_to(media)) for p in media.glob(f"{prefix}**/*") if p.is_file())


def video_public_id(stack: Stack, video_id: int) -> str:
    ((public_id,),) = db_rows(stack, "SELECT public_id FROM videos_video WHERE id = %s", (video_id,))
    return public_id


def video_row_count(stack: Stack) -> int:
    ((count,),) = db_rows(stack, "SELECT COUNT(*) FROM videos_video")
    return int(count)
