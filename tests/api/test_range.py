"""stream_video end to end, in each mode: the stored rendition's exact bytes whole and in one
range, 416, HEAD, If-None-Match, and the presigned redirect in cluster mode.

The Range rules themselves (every range form, malformed headers, If-Range, the If-None-Match
forms, HEAD) are tested in-process in tests/api/test_range_rules.py; this file keeps what only a
live stack can show: the handler, the ASGI server and the store wired together.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from recordplus.core.storage import keys
from tests.conftest import Stack
from tests.support import make_webm, upload


@pytest.fixture(scope="session")
def ready_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {"webm": make_webm(tmp_path_factory.mktemp("media") / "range.webm", seconds=3).read_bytes()}


def stored_video(stack: Stack, video: dict[str, Any]) -> bytes:
    """The playable rendition as it sits in storage (read behind the API's back)."""
    key = keys.rendition(video["public_id"], {"video/webm": "webm", "video/mp4": "mp4"}[video["content_type"]])
    if stack.mode == "cluster":
        return stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return (stack.data_dir / "media" / key).read_bytes()


@pytest.fixture
def served(stack: Stack, ready_videos: dict[str, Any]) -> tuple[Stack, int, bytes]:
    """A ready video in this mode, and the bytes stored for it."""
    key = f"video_{stack.mode}"
    if key not in ready_videos:
        video_id = upload(stack, ready_videos["webm"], chunk_sizes=[200_000])
        video = stack.wait_for(video_id)
        assert video["status"] == "ready", video
        ready_videos[key] = (video_id, stored_video(stack, video))
    video_id, full = ready_videos[key]
    return stack, video_id, full


def get(stack: Stack, video_id: int, **headers: str) -> httpx.Response:
    """Through our own Range code: the embedded API, or the cluster's proxy-mode API."""
    with httpx.Client(base_url=stack.streaming_url, timeout=60) as client:
        response = client.get(f"/api/record/videos/{video_id}/stream_video/", headers=headers)
    assert response.status_code not in (301, 302, 307), "expected bytes, got a redirect"
    return response


def test_it_serves_the_whole_video(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    response = get(stack, video_id)
    assert response.status_code == 200
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"]
    assert response.headers["last-modified"]
    assert response.headers["content-type"].startswith("video/webm")
    assert int(response.headers["content-length"]) == len(full) == len(response.content)
    assert response.content == full


def test_it_serves_a_range(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    response = get(stack, video_id, Range="bytes=1000-1999")
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 1000-1999/{len(full)}"
    assert int(response.headers["content-length"]) == 1000
    assert response.content == full[1000:2000]


def test_it_answers_416_when_unsatisfiable(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    response = get(stack, video_id, Range=f"bytes={len(full)}-")
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(full)}"
    assert response.headers["content-type"].startswith("application/json")
    assert "beyond the end" in response.json()["message"]
    assert response.json()["detail"] == {"size": len(full)}


def test_it_answers_304_for_a_matching_if_none_match(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, _ = served
    etag = get(stack, video_id).headers["etag"]
    response = get(stack, video_id, **{"If-None-Match": etag})
    assert response.status_code == 304
    assert response.headers["etag"] == etag
    assert response.content == b""


def test_it_redirects_to_presigned_s3_in_cluster_mode(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    with stack.client() as client:
        response = client.get(f"/api/record/videos/{video_id}/stream_video/")
    if stack.mode != "cluster":
        assert response.status_code == 200
        assert response.content == full
        return
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(stack.env["S3_ENDPOINT_URL"])
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    ranged = httpx.get(location, headers={"Range": "bytes=10-19"}, timeout=30)
    assert ranged.status_code == 206
    assert ranged.content == full[10:20]
    assert ranged.headers["content-type"] == "video/webm"


def test_it_answers_head_without_a_body(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    with httpx.Client(base_url=stack.streaming_url, timeout=60) as client:
        response = client.head(f"/api/record/videos/{video_id}/stream_video/", headers={"Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 0-9/{len(full)}"
    assert response.content == b""
