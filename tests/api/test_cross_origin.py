"""Other web pages cannot use the API: the server refuses them, not only the browser.

A browser still *sends* a simple cross-site request (a form POST, a GET) and only hides the
answer, so a page the user visits could otherwise create videos, append junk to a recording
in progress, finalize it, or — through DNS rebinding — read anonymous recordings. Without an
upload URL, any request with a foreign Origin is 403 and changes nothing; a loopback-bound
server answers only loopback host names.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Stack
from tests.support import make_webm

EXTENSION = "chrome-extension://" + "abcdefghijklmnopabcdefghijklmnop"
FOREIGN = [
    "https://evil.example",
    "http://evil.example",
    "http://127.0.0.1.evil.example",
    "http://localhost:1",  # another port is another origin
    "null",  # sandboxed frames and file:// pages
    "chrome-extension://not-an-extension-id",
]


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "origin.webm", seconds=2).read_bytes()


def test_it_refuses_every_call_from_a_foreign_origin(stack: Stack, webm: bytes) -> None:
    with stack.client() as client:
        created = client.post("/api/record/videos", data={"title": "in progress"}, files={"video_file": ("b", webm[:5000])})
        video_id = created.json()["video_id"]
        for origin in FOREIGN:
            headers = {"Origin": origin}
            calls = [
                ("POST", "/api/record/videos/", {"data": {"title": "spam"}}),
                ("PATCH", f"/api/record/videos/{video_id}/update_video_file/", {"files": {"video_chunk": ("b", b"junk")}}),
                ("POST", f"/api/record/videos/{video_id}/finalize_video_upload/", {}),
                ("GET", "/api/record/videos/", {}),
                ("GET", f"/api/record/videos/{video_id}", {}),
                ("GET", f"/api/record/videos/{video_id}/stream_video/", {}),
                ("GET", f"/api/record/videos/{video_id}/upload", {}),
                ("DELETE", f"/api/record/videos/{video_id}", {}),
            ]
            for method, path, extra in calls:
                response = client.request(method, path, headers=headers, **extra)
                assert response.status_code == 403, (origin, method, path, response.text)
                assert "other web pages are refused" in response.json()["message"]
                assert "access-control-allow-origin" not in response.headers
        # Nothing changed: still one chunk, still uploading, still there.
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
        assert status["chunks"] == 1 and status["status"] == "uploading"
        assert [v["title"] for v in client.get("/api/record/videos").json()].count("spam") == 0


def test_it_refuses_cross_site_requests_without_an_origin(stack: Stack) -> None:
    with stack.client() as client:
        response = client.get("/api/record/videos", headers={"Sec-Fetch-Site": "cross-site"})
        assert response.status_code == 403
        assert client.get("/api/record/videos", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200


def test_it_serves_its_own_origin_and_extension_pages(stack: Stack) -> None:
    with stack.client() as client:
        own = client.post("/api/record/videos", data={"title": "same origin"}, headers={"Origin": stack.url})
        assert own.status_code == 201, own.text
        extension = client.get("/api/record/videos", headers={"Origin": EXTENSION})
        assert extension.status_code == 200
        assert extension.headers["access-control-allow-origin"] == EXTENSION
        preflight = client.options(
            "/api/record/videos/update_video_chunck",
            headers={"Origin": EXTENSION, "Access-Control-Request-Method": "PATCH"},
        )
        assert preflight.headers["access-control-allow-origin"] == EXTENSION


def test_it_answers_only_loopback_names_when_bound_to_loopback(stack: Stack) -> None:
    port = stack.port
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.nip.example"):
        response = httpx.get(f"{stack.url}/api/record/videos", headers={"Host": host}, timeout=30)
        assert response.status_code == 400, (host, response.text)
        assert "json" in response.headers["content-type"]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        assert httpx.get(f"{stack.url}/api/record/videos", headers={"Host": host}, timeout=30).status_code == 200
