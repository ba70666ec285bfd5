"""RFC 9110 Range on stream_video: 200/206/416, Content-Range, Accept-Ranges, ETag, If-Range."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.support import make_webm, upload


@pytest.fixture(scope="session")
def ready_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return {"webm": make_webm(tmp_path_factory.mktemp("media") / "range.webm", seconds=3).read_bytes()}


@pytest.fixture
def served(stack: Stack, ready_videos: dict[str, Any]) -> tuple[Stack, int, bytes]:
    key = f"video_{stack.mode}"
    if key not in ready_videos:
        video_id = upload(stack, ready_videos["webm"], chunk_sizes=[200_000])
        assert stack.wait_for(video_id)["status"] == "ready"
        full = get(stack, video_id).content
        ready_videos[key] = (video_id, full)
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


@pytest.mark.parametrize(
    ("header", "slice_of"),
    [
        ("bytes=0-99", lambda n: (0, 99)),
        ("bytes=1000-1999", lambda n: (1000, 1999)),
        ("bytes=-500", lambda n: (n - 500, n - 1)),
        ("bytes=2000-", lambda n: (2000, n - 1)),
        ("bytes=100-999999999", lambda n: (100, n - 1)),
    ],
    ids=["first-bytes", "middle", "suffix", "open-ended", "past-the-end"],
)
def test_it_serves_ranges(served: tuple[Stack, int, bytes], header: str, slice_of: Any) -> None:
    stack, video_id, full = served
    start, end = slice_of(len(full))
    response = get(stack, video_id, Range=header)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(full)}"
    assert response.content == full[start : end + 1]
    assert int(response.headers["content-length"]) == end - start + 1


def test_it_answers_416_when_unsatisfiable(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    response = get(stack, video_id, Range=f"bytes={len(full)}-")
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(full)}"


def test_it_honours_if_range(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    etag = get(stack, video_id).headers["etag"]
    matching = get(stack, video_id, Range="bytes=0-9", **{"If-Range": etag})
    assert matching.status_code == 206
    assert matching.content == full[:10]
    stale = get(stack, video_id, Range="bytes=0-9", **{"If-Range": '"some-old-version"'})
    assert stale.status_code == 200
    assert stale.content == full


@pytest.mark.parametrize(
    "header",
    ["bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,5-9", "bytes=-" + "9" * 5000, "bytes=\u00b2-", "bytes=\u0661-"],
    ids=["letters", "backwards", "other-unit", "multi-range", "huge", "superscript-digit", "arabic-digit"],
)
def test_it_ignores_a_malformed_range(served: tuple[Stack, int, bytes], header: str) -> None:
    stack, video_id, full = served
    with httpx.Client(base_url=stack.streaming_url, timeout=60) as client:
        response = client.get(
            f"/api/record/videos/{video_id}/stream_video/", headers=[("Range", header.encode("utf-8"))]
        )
    assert response.status_code == 200
    assert response.content == full


def test_it_answers_416_with_a_json_body(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    response = get(stack, video_id, Range=f"bytes={len(full) + 10}-{len(full) + 20}")
    assert response.status_code == 416
    assert "beyond the end" in response.json()["message"]
    assert response.json()["detail"] == {"size": len(full)}


def test_it_answers_304_for_a_matching_if_none_match(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, _ = served
    etag = get(stack, video_id).headers["etag"]
    for header in (etag, f"W/{etag}", '"other", ' + etag, "*"):
        response = get(stack, video_id, **{"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.headers["etag"] == etag
        assert response.content == b""
    assert get(stack, video_id, **{"If-None-Match": '"other"'}).status_code == 200


def test_it_redirects_to_presigned_s3_in_cluster_mode(served: tuple[Stack, int, bytes]) -> None:
    stack, video_id, full = served
    with stack.client() as client:
        response = client.get(f"/api/record/videos/{video_id}/stream_video/")
    if stack.mode != "cluster":
        assert response.status_code == 200
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
