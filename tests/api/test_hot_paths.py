"""The lean ASGI route (videos.hot_paths) answers exactly as Django's stack does.

Two embedded servers side by side, one with the lean route (the default) and one with
HOT_PATHS=false (every request through Django), the same users and videos made in the same
order, so the same requests must get the same status, JSON body and headers from both. Then
what only the lean server can show: the same metrics labels, the same rate-limit buckets as
Django's middleware, size limits, and the requests it must leave to Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from recordplus.core.storage import keys
from tests.conftest import TEST_MAX_CHUNK_BYTES, Stack, make_embedded_stack
from tests.support import make_webm

RAW = {"Content-Type": "application/octet-stream"}
# Headers whose values must agree; ETag and Content-Disposition name the video's random
# public id, which differs between the two servers, so only their presence is compared.
SAME_VALUE = ("content-type", "content-length", "content-range", "accept-ranges", "vary", "retry-after",
              "cache-control", "access-control-allow-origin", "access-control-expose-headers")
PRESENT = ("etag", "content-disposition", "last-modified")


@dataclass
class Side:
    stack: Stack
    alice: str
    bob: str

    def call(self, method: str, path: str, *, token: str | None = "alice", **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {getattr(self, token, token)}"
        with httpx.Client(base_url=self.stack.url, timeout=60) as client:
            return client.request(method, path, headers=headers, **kwargs)


def _side(workdir: Path, **env: str) -> Side:
    stack = make_embedded_stack(workdir, ALLOW_ANONYMOUS="false", **env)
    return Side(stack, stack.create_user("alice"), stack.create_user("bob"))


@pytest.fixture(scope="module")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Side, Side]]:
    lean = _side(tmp_path_factory.mktemp("lean"))
    django = _side(tmp_path_factory.mktemp("django"), HOT_PATHS="false")
    yield lean, django
    lean.stack.stop()
    django.stack.stop()


def _shape(response: httpx.Response) -> dict[str, Any]:
    headers = {name: response.headers.get(name) for name in SAME_VALUE if name in response.headers}
    headers.update({f"{name}?": name in response.headers for name in PRESENT})
    body: Any = len(response.content)  # renditions differ by their random Matroska segment id
    if "json" in response.headers.get("content-type", ""):
        body = response.json()
    return {"status": response.status_code, "headers": headers, "body": body}


def _both(twins: tuple[Side, Side], method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    lean, django = twins
    answers = [_shape(side.call(method, path, **kwargs)) for side in (lean, django)]
    assert answers[0] == answers[1], f"{method} {path}: lean {answers[0]} != django {answers[1]}"
    return answers[0]


def _new_video(twins: tuple[Side, Side], title: str = "twin") -> int:
    ids = {side.call("POST", "/api/record/videos", json={"title": title}).json()["video_id"] for side in twins}
    assert len(ids) == 1, "the twins fell out of step"
    return ids.pop()


def test_it_answers_chunk_uploads_as_django_does(twins: tuple[Side, Side]) -> None:
    """Catches a lean route whose parsing, checks or answers drift from the Django handler's:
    a different error, a missing ownership check (bob writing into alice's video), a token not
    checked, an index rule skipped, a finalized video still taking chunks."""
    video = _new_video(twins)
    base = f"/api/record/videos/{video}/update_video_chunck"
    assert _both(twins, "PATCH", f"{base}?chunk_index=0", content=b"first", headers=RAW)["status"] == 200
    duplicate = _both(twins, "PATCH", f"{base}?chunk_index=0", content=b"first", headers=RAW)
    assert duplicate["status"] == 200 and duplicate["body"]["duplicate"] is True
    assert _both(twins, "PATCH", f"{base}?chunk_index=0", content=b"other", headers=RAW)["status"] == 409
    assert _both(twins, "PUT", f"/api/v1/record/videos/{video}/update_video_chunck/?chunk_index=1", content=b"b",
                 headers=RAW)["status"] == 200
    assert _both(twins, "POST", f"/api/record/videos/update_video_chunck?video_id={video}&chunk_index=2",
                 content=b"c", headers={"Content-Type": "video/webm"})["status"] == 200
    assert _both(twins, "PATCH", f"/api/record/videos/{video}/update_video_file?chunk_index=3", content=b"d",
                 headers=RAW)["status"] == 200
    for query, status in [("chunk_index=x", 400), ("chunk_index=-1", 400), ("chunk_index=4&video_id=999", 400),
                          ("chunk_index=4&last=maybe", 400), ("last=true", 400), ("chunk_index=99999999", 400)]:
        assert _both(twins, "PATCH", f"{base}?{query}", content=b"e", headers=RAW)["status"] == status, query
    assert _both(twins, "PATCH", f"{base}?chunk_index=4", content=b"", headers=RAW)["status"] == 400
    assert _both(twins, "PATCH", "/api/record/videos/update_video_chunck?chunk_index=4", content=b"e",
                 headers=RAW)["status"] == 400
    assert _both(twins, "PATCH", f"{base}?chunk_index=4", content=b"e", headers=RAW, token="bob")["status"] == 404
    assert _both(twins, "PATCH", f"{base}?chunk_index=4", content=b"e", headers=RAW, token=None)["status"] == 401
    assert _both(twins, "PATCH", f"{base}?chunk_index=4", content=b"e", headers=RAW, token="rp_wrong")["status"] == 401
    assert _both(twins, "PATCH", f"{base}?chunk_index=4", content=b"e",
                 headers={**RAW, "Authorization": "Basic eDp5"}, token=None)["status"] == 401
    assert _both(twins, "PATCH", "/api/record/videos/999999/update_video_chunck?chunk_index=0", content=b"e",
                 headers=RAW)["status"] == 404
    assert _both(twins, "PATCH", f"{base}?chunk_index=4&last=true", content=b"e", headers=RAW)["status"] == 200
    assert _both(twins, "PATCH", f"{base}?chunk_index=5", content=b"f", headers=RAW)["status"] == 409
    assert _both(twins, "POST", f"/api/record/videos/{video}/finalize_video_upload")["status"] == 200
    for side in twins:  # the status in the message moves on with the assembly, in its own time on each side
        late = side.call("PATCH", f"{base}?chunk_index=5", content=b"f", headers=RAW)
        assert late.status_code == 409 and "already finalized" in late.json()["message"]


@pytest.fixture(scope="module")
def ready_twins(twins: tuple[Side, Side], tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, bytes]]:
    data = make_webm(tmp_path_factory.mktemp("media") / "twin.webm", seconds=3).read_bytes()
    video = _new_video(twins, "stream")
    renditions = {}
    for side, name in zip(twins, ("lean", "django")):
        side.call("PATCH", f"/api/record/videos/{video}/update_video_chunck?chunk_index=0&last=true", content=data,
                  headers=RAW).raise_for_status()
        side.call("POST", f"/api/record/videos/{video}/finalize_video_upload").raise_for_status()
        detail = side.stack.wait_for(video, token=side.alice)
        assert detail["status"] == "ready", detail
        key = keys.rendition(detail["public_id"], {"video/webm": "webm", "video/mp4": "mp4"}[detail["content_type"]])
        renditions[name] = (side.stack.data_dir / "media" / key).read_bytes()  # behind the API's back
    return video, renditions


def test_it_streams_as_django_does(twins: tuple[Side, Side], ready_twins: tuple[int, dict[str, bytes]]) -> None:
    """Catches a lean stream whose Range, validators, ownership or auth differ from the Django
    view's, or whose bytes are not the stored rendition's (a wrong offset or a short read)."""
    video, renditions = ready_twins
    lean, django = twins
    path = f"/api/record/videos/{video}/stream_video"
    whole = renditions["lean"]
    size = len(whole)
    for side, name in zip(twins, ("lean", "django")):
        assert side.call("GET", path).content == renditions[name]
    cases: list[tuple[str, dict[str, str]]] = [
        ("GET", {}), ("HEAD", {}), ("GET", {"Range": "bytes=0-99"}), ("GET", {"Range": "bytes=-100"}),
        ("GET", {"Range": f"bytes={size - 10}-"}), ("GET", {"Range": f"bytes={size}-"}),
        ("GET", {"Range": "bytes=5-1"}), ("GET", {"Range": "bytes=0-1,5-6"}), ("HEAD", {"Range": "bytes=10-19"}),
        ("GET", {"Range": "bytes=0-9", "If-Range": '"not-the-tag"'}), ("GET", {"If-None-Match": "*"}),
    ]
    for method, headers in cases:
        answer = _both(twins, method, path, headers=headers)
        assert answer["status"] in (200, 206, 304, 416), (method, headers, answer)
    for start, end in [(0, 99), (size // 2, size // 2 + 256 * 1024), (size - 10, size - 1)]:
        response = lean.call("GET", path, headers={"Range": f"bytes={start}-{end}"})
        assert response.status_code == 206 and response.content == whole[start:min(end, size - 1) + 1]
    etag = lean.call("HEAD", path).headers["etag"]
    assert lean.call("GET", path, headers={"If-None-Match": etag}).status_code == 304
    assert lean.call("GET", path, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    assert _both(twins, "GET", path, token="bob")["status"] == 404
    assert _both(twins, "GET", path, token=None)["status"] == 401
    assert _both(twins, "GET", f"/api/v1/record/videos/{video}/stream_video/", headers={"Range": "bytes=1-2"})["status"] == 206
    assert _both(twins, "GET", "/api/record/videos/999999/stream_video")["status"] == 404
    pending = _new_video(twins, "not ready")
    assert _both(twins, "GET", f"/api/record/videos/{pending}/stream_video")["status"] == 409


def test_it_serves_signed_urls_as_django_does(twins: tuple[Side, Side], ready_twins: tuple[int, dict[str, bytes]]) -> None:
    """Catches a lean route that lets an altered signature through, or answers a good one
    without the open CORS a media element in another page needs."""
    video, _ = ready_twins
    signed = [side.call("GET", f"/api/record/videos/{video}").json()["signed_urls"]["stream"] for side in twins]
    answers = []
    for side, url in zip(twins, signed):
        with httpx.Client(timeout=60) as client:
            good = client.get(url, headers={"Range": "bytes=0-9"})
            bad = client.get(re.sub(r"sig=[^&]+", "sig=AAAA", url))
            other = client.get(url.replace(f"/videos/{video}/", "/videos/999999/"))
        assert good.status_code == 206 and good.headers["access-control-allow-origin"] == "*"
        answers.append([_shape(r)["status"] for r in (good, bad, other)] + [bad.json(), other.json()])
    assert answers[0] == answers[1]
    assert answers[0][1] == 403


def _metric(stack: Stack, name: str, **labels: str) -> float:
    text = httpx.get(f"{stack.url}/metrics", timeout=30).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith((name + "{", name + " ")) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_it_counts_requests_under_django_route_labels(twins: tuple[Side, Side]) -> None:
    """Catches a lean route that is invisible to the dashboards: requests and chunks must count
    under the same metric names and route labels as through Django."""
    lean, _ = twins
    route = "/api/record/videos/<video_id>/update_video_chunck"
    before = _metric(lean.stack, "recordplus_http_requests_total", route=route, method="PATCH", status="200")
    chunks_before = _metric(lean.stack, "recordplus_upload_chunks_total")
    video = lean.call("POST", "/api/record/videos", json={"title": "metrics"}).json()["video_id"]
    for index in range(3):
        lean.call("PATCH", f"/api/record/videos/{video}/update_video_chunck?chunk_index={index}", content=b"x" * 10,
                  headers=RAW).raise_for_status()
    assert _metric(lean.stack, "recordplus_http_requests_total", route=route, method="PATCH", status="200") == before + 3
    assert _metric(lean.stack, "recordplus_upload_chunks_total") == chunks_before + 3
    assert _metric(lean.stack, "recordplus_http_request_duration_seconds_count", route=route, method="PATCH") >= 3


def test_it_leaves_other_requests_to_django(twins: tuple[Side, Side]) -> None:
    """Catches a lean route that takes requests whose rules it does not apply: a foreign web
    page's (the cross-origin guard), a Host outside ALLOWED_HOSTS (DNS rebinding), a multipart
    body (Django's parser)."""
    lean, _ = twins
    video = lean.call("POST", "/api/record/videos", json={"title": "fallback"}).json()["video_id"]
    path = f"/api/record/videos/{video}/update_video_chunck?chunk_index=0"
    foreign = lean.call("PATCH", path, content=b"x", headers={**RAW, "Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "other web pages" in foreign.json()["message"]
    rebound = lean.call("PATCH", path, content=b"x", headers={**RAW, "Host": "evil.example"})
    assert rebound.status_code == 400
    multipart = lean.call("PATCH", f"/api/record/videos/{video}/update_video_chunck",
                          files={"video_chunck": ("0.webm", b"multi", "video/webm")}, data={"chunk_index": "0"})
    assert multipart.status_code == 200 and multipart.json()["size"] == 5


def test_it_refuses_oversize_raw_chunks(twins: tuple[Side, Side]) -> None:
    """Catches a lean route that stores a chunk past MAX_CHUNK_BYTES (with or without a
    declared length, which the outer BodyLimit alone would not catch below its framing slack)."""
    lean, _ = twins
    video = lean.call("POST", "/api/record/videos", json={"title": "big"}).json()["video_id"]
    path = f"/api/record/videos/{video}/update_video_chunck?chunk_index=0"
    over = lean.call("PATCH", path, content=b"x" * (TEST_MAX_CHUNK_BYTES + 1), headers=RAW)
    assert over.status_code == 413 and over.json()["detail"]["max_chunk_bytes"] == TEST_MAX_CHUNK_BYTES
    streamed = lean.call("PATCH", path, content=iter([b"x" * (TEST_MAX_CHUNK_BYTES // 2)] * 3), headers=RAW)
    assert streamed.status_code == 413
    status = lean.call("GET", f"/api/record/videos/{video}/upload").json()
    assert status["chunks"] == 0


def test_it_spends_the_same_rate_limit_buckets(tmp_path: Path) -> None:
    """Catches a lean route that bypasses RATE_LIMIT_REQUESTS_PER_MINUTE, or keeps buckets of
    its own (a client would get twice the limit, split between the two paths)."""
    side = _side(tmp_path, RATE_LIMIT_REQUESTS_PER_MINUTE="4")
    try:
        video = side.call("POST", "/api/record/videos", json={"title": "limited"}).json()["video_id"]  # Django: 1
        for index in range(3):  # lean: 2, 3, 4
            side.call("PATCH", f"/api/record/videos/{video}/update_video_chunck?chunk_index={index}", content=b"x",
                      headers=RAW).raise_for_status()
        lean = side.call("PATCH", f"/api/record/videos/{video}/update_video_chunck?chunk_index=3", content=b"x",
                         headers=RAW)
        django = side.call("GET", "/api/record/videos")
        for answer in (lean, django):
            assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
            assert "too many requests" in answer.json()["message"]
        assert side.call("GET", "/api/record/videos", token="bob").status_code == 200  # bob has a bucket of his own
    finally:
        side.stack.stop()
