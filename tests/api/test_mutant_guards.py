"""Guarantees a mutation audit found no test for: CORS limited to what the operator allowed,
and signed-in users never seeing anonymous videos.

- Mutant "CORS widened to any http:// origin" (or any scheme, or a regex left unanchored): the
  origin rule is checked in-process on many foreign origins, and on a live server a foreign
  preflight gets no Access-Control-Allow-Origin while an extension page does.
- Mutant "signed-in users also see anonymous videos" (the owner filter of the selectors widened
  to `owner=user OR owner IS NULL`): an anonymous, ready video is absent from a signed-in
  user's list and a 404 on detail and stream, while the anonymous caller still sees it.
"""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from recordplus.core.origins import cors_allowed, foreign_origin
from tests.conftest import Stack
from tests.support import create_video, finalize, make_webm, send_chunk

EXTENSION = "chrome-extension://" + "abcdefghijklmnopabcdefghijklmnop"
FOREIGN = [
    "http://evil.example",
    "https://evil.example",
    "http://localhost",
    "http://localhost:3000",  # another port of the same host is another origin
    "http://127.0.0.1:1",
    "http://[::1]:8000",
    "null",  # sandboxed frames, file:// pages
    "file://",
    "chrome-extension://not-an-extension-id",
    "chrome-extension://" + "abcdefghijklmnopabcdefghijklmnop" + ".evil.example",  # an unanchored regex
    "moz-extension://abcdefghijklmnopabcdefghijklmnop",
    "HTTP://EVIL.EXAMPLE",
]


@pytest.mark.parametrize("origin", FOREIGN)
def test_it_refuses_foreign_origins_by_default(origin: str) -> None:
    request = RequestFactory().get("/api/record/videos", HTTP_ORIGIN=origin, HTTP_HOST="127.0.0.1:8000")
    assert not cors_allowed(origin), origin
    assert foreign_origin(request) == origin


def test_it_allows_only_its_own_origin_and_extension_pages() -> None:
    factory = RequestFactory()
    own = factory.get("/api/record/videos", HTTP_ORIGIN="http://127.0.0.1:8000", HTTP_HOST="127.0.0.1:8000")
    assert foreign_origin(own) is None
    extension = factory.get("/api/record/videos", HTTP_ORIGIN=EXTENSION, HTTP_HOST="127.0.0.1:8000")
    assert cors_allowed(EXTENSION) and foreign_origin(extension) is None


@override_settings(CORS_ALLOWED_ORIGINS=["https://app.example"], CORS_ALLOWED_ORIGIN_REGEXES=[])
def test_it_allows_exactly_the_configured_origins() -> None:
    assert cors_allowed("https://app.example")
    for origin in ("http://app.example", "https://app.example:444", "https://app.example.evil", EXTENSION):
        assert not cors_allowed(origin), origin


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "guards.webm", seconds=2).read_bytes()


def test_it_answers_no_foreign_preflight(embedded_stack: Stack) -> None:
    with embedded_stack.client() as client:
        for origin in FOREIGN:
            preflight = client.options(
                "/api/record/videos/update_video_chunck",
                headers={"Origin": origin, "Access-Control-Request-Method": "PATCH"},
            )
            assert "access-control-allow-origin" not in preflight.headers, (origin, dict(preflight.headers))
        allowed = client.options(
            "/api/record/videos/update_video_chunck",
            headers={"Origin": EXTENSION, "Access-Control-Request-Method": "PATCH"},
        )
        assert allowed.headers["access-control-allow-origin"] == EXTENSION


def listed_ids(body: object) -> list[int]:
    """Video ids of a list answer (the seed's plain list, or a page with `items`)."""
    items = body if isinstance(body, list) else body["items"]  # type: ignore[index]
    return [v["id"] for v in items]


def test_it_hides_anonymous_videos_from_signed_in_users(stack: Stack, webm: bytes) -> None:
    with stack.client() as anonymous:
        video_id = create_video(anonymous, title="anonymous recording")
        assert send_chunk(anonymous, video_id, webm, 0).status_code == 200
        assert finalize(anonymous, video_id).status_code == 200
    assert stack.wait_for(video_id)["status"] == "ready"

    carol = stack.create_user("carol-guards")
    with stack.client(carol) as client:
        own = create_video(client, title="carol's")
        listed = client.get("/api/record/videos/")
        assert listed.status_code == 200
        ids = listed_ids(listed.json())
        assert video_id not in ids and own in ids
        for path in (f"/api/record/videos/{video_id}", f"/api/record/videos/{video_id}/stream_video/"):
            response = client.get(path)
            assert response.status_code == 404, (path, response.status_code, response.text[:200])
            assert "not found" in response.json()["message"]

    # The anonymous caller (the local owner) still sees it, and not carol's.
    with stack.client() as anonymous:
        ids = listed_ids(anonymous.get("/api/record/videos/").json())
        assert video_id in ids and own not in ids
        assert anonymous.get(f"/api/record/videos/{video_id}").json()["title"] == "anonymous recording"
