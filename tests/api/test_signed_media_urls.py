"""Signed media URLs: a token user's detail gives URLs that a client without the token can GET
(the stored bytes, Range, HEAD, 304), in both modes; anything altered, for another file or video,
or expired is a 403 JSON answer; the embedded key survives a restart.

Live stacks (embedded: served from disk; cluster: moto S3 behind the redirect and the proxy API)
show the wiring; the expiry is checked in-process with the clock replaced (nothing sleeps).
"""

from __future__ import annotations

import asyncio
import io
import stat
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from django.test import Client

from recordplus.core.storage import get_store, keys
from tests.conftest import Stack, make_embedded_stack
from tests.support import make_webm, stored_original, upload

FILES = ("stream", "thumbnail", "original")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "signed.webm", seconds=2).read_bytes()


def stored(stack: Stack, key: str) -> bytes:
    """An object as it sits in storage (read behind the API's back)."""
    if stack.mode == "cluster":
        return stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
    return (stack.data_dir / "media" / key).read_bytes()


_READY: dict[str, tuple[str, dict[str, Any]]] = {}


@pytest.fixture
def owned(stack: Stack, clip: bytes) -> tuple[Stack, str, dict[str, Any]]:
    return _owned(stack, clip)


def _owned(stack: Stack, clip: bytes) -> tuple[Stack, str, dict[str, Any]]:
    """A ready video of a token user in this mode, and its detail as read from `streaming_url`
    (in cluster mode the proxy API, whose signed URLs stream through our own Range code)."""
    if stack.mode not in _READY:
        token = stack.create_user(f"signed-{stack.mode}-{time.monotonic_ns()}")
        video_id = upload(stack, clip, chunk_sizes=[150_000], token=token)
        assert stack.wait_for(video_id, token=token)["status"] == "ready"
        with httpx.Client(base_url=stack.streaming_url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            detail = c.get(f"/api/record/videos/{video_id}").json()
        _READY[stack.mode] = (token, detail)
    token, detail = _READY[stack.mode]
    return stack, token, detail


def anonymous(**kwargs: Any) -> httpx.Client:
    """A client with no token at all: what a <video> element is."""
    return httpx.Client(timeout=60, **kwargs)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def assert_refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert words in response.json()["message"], response.json()


def test_it_serves_the_stored_bytes_without_the_token(owned: tuple[Stack, str, dict[str, Any]], clip: bytes) -> None:
    stack, _, detail = owned
    urls = detail["signed_urls"]
    public_id = detail["public_id"]
    assert set(urls) == {"expires_at", "stream", "thumbnail", "original", "transcript"}
    assert urls["expires_at"] - time.time() == pytest.approx(3600, abs=120)  # the default TTL
    for name in FILES:
        assert "Bearer" not in urls[name] and "rp_" not in urls[name]  # no token in any URL
        assert urlsplit(urls[name]).netloc == urlsplit(stack.streaming_url).netloc  # absolute, from the request

    # The plain URL without a token is someone else's video: 404. The signed one is served.
    with anonymous() as client:
        assert client.get(detail["video_file"]).status_code == 404
        stream = client.get(urls["stream"])
        thumbnail = client.get(urls["thumbnail"])
        original = client.get(urls["original"])
    rendition = keys.rendition(public_id, {"video/webm": "webm", "video/mp4": "mp4"}[detail["content_type"]])
    assert (stream.status_code, stream.content) == (200, stored(stack, rendition))
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/jpeg")
    assert thumbnail.content == stored(stack, keys.thumbnail(public_id))
    assert original.content == stored_original(stack, detail) == clip


def test_it_honours_range_head_and_304(owned: tuple[Stack, str, dict[str, Any]]) -> None:
    stack, _, detail = owned
    url = detail["signed_urls"]["stream"]
    with anonymous() as client:
        full = client.get(url)
        ranged = client.get(url, headers={"Range": "bytes=100-1099"})
        head = client.head(url)
        unchanged = client.get(url, headers={"If-None-Match": full.headers["etag"]})
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 100-1099/{len(full.content)}"
    assert ranged.content == full.content[100:1100]
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    assert unchanged.status_code == 304 and unchanged.content == b""


def test_it_redirects_to_presigned_storage_in_cluster_mode(cluster_stack: Stack, clip: bytes) -> None:
    stack, token, proxied = _owned(cluster_stack, clip)
    # The detail as the default (redirect-mode) API gives it: its signed URL redirects to S3.
    with stack.client(token) as client:
        detail = client.get(f"/api/record/videos/{proxied['id']}").json()
    assert urlsplit(detail["signed_urls"]["stream"]).netloc == urlsplit(stack.url).netloc
    with anonymous() as client:
        redirect = client.get(detail["signed_urls"]["stream"])
        assert redirect.status_code == 302, redirect.text
        location = redirect.headers["location"]
        assert location.startswith(stack.env["S3_ENDPOINT_URL"]) and "X-Amz-Signature=" in location
        ranged = client.get(location, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206
    rendition = keys.rendition(detail["public_id"], "webm")
    assert ranged.content == stored(stack, rendition)[10:20]


def test_it_refuses_altered_and_borrowed_signatures(owned: tuple[Stack, str, dict[str, Any]]) -> None:
    stack, _, detail = owned
    urls = detail["signed_urls"]
    stream, thumbnail = urls["stream"], urls["thumbnail"]
    signature = parse_qs(urlsplit(stream).query)["sig"][0]
    thumb_query = parse_qs(urlsplit(thumbnail).query)
    with anonymous() as client:
        flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
        assert_refused(client.get(with_query(stream, sig=flipped)), "not valid")
        assert_refused(client.get(with_query(stream, expires=str(urls["expires_at"] + 86_400))), "not valid")
        # The thumbnail's signature on the stream's path: another file.
        borrowed = with_query(stream, sig=thumb_query["sig"][0], expires=thumb_query["expires"][0])
        assert_refused(client.get(borrowed), "not valid")
        # This video's signature on another video's path: 404 when there is none, 403 otherwise.
        other = stream.replace(f"/videos/{detail['id']}/", "/videos/999999999/")
        missing = client.get(other)
        assert missing.status_code == 404 and missing.json()["message"] == "video 999999999 not found"
        assert_refused(client.get(with_query(stream, sig="")), "incomplete")
        assert_refused(client.get(with_query(stream, expires="tomorrow")), "unix seconds")


def test_it_lets_any_page_embed_a_signed_url(owned: tuple[Stack, str, dict[str, Any]]) -> None:
    stack, token, detail = owned
    foreign = {"Origin": "https://elsewhere.example", "Sec-Fetch-Site": "cross-site"}
    with anonymous() as client:
        response = client.get(detail["signed_urls"]["stream"], headers={**foreign, "Range": "bytes=0-9"})
    assert response.status_code == 206
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers
    # Without a signature another page still gets nothing, even with the owner's token.
    with httpx.Client(base_url=stack.streaming_url, timeout=60) as client:
        refused = client.get(
            f"/api/record/videos/{detail['id']}/stream_video",
            headers={**foreign, "Authorization": f"Bearer {token}"},
        )
    assert refused.status_code == 403 and "other web pages" in refused.json()["message"]


def test_it_signs_nothing_else(owned: tuple[Stack, str, dict[str, Any]]) -> None:
    """`sig` on a route that is not a media file grants nothing: the usual rules apply."""
    stack, _, detail = owned
    query = urlsplit(detail["signed_urls"]["stream"]).query
    with anonymous(base_url=stack.streaming_url) as client:
        hidden = client.get(f"/api/record/videos/{detail['id']}?{query}")
        listed = client.get(f"/api/record/videos?{query}")
        deleted = client.delete(f"/api/record/videos/{detail['id']}/stream_video?{query}")
    assert hidden.status_code == 404  # the detail stays the owner's
    assert detail["id"] not in [video["id"] for video in listed.json()]
    assert deleted.status_code == 405
    assert stack.wait_for(detail["id"], token=owned[1])["status"] == "ready"  # still there


# --- embedded specifics -------------------------------------------------------------------


def test_it_keeps_the_embedded_key_across_a_restart(tmp_path: Path, clip: bytes) -> None:
    stack = make_embedded_stack(tmp_path)
    try:
        video_id = upload(stack, clip, chunk_sizes=[150_000])
        url = stack.wait_for(video_id)["signed_urls"]["original"]
        secret_file = stack.data_dir / "media-url.secret"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        secret = secret_file.read_text()
        stack.stop()
        stack.start_server()  # the same data dir, a new process
        with anonymous() as client:
            again = client.get(url)
        assert (again.status_code, again.content) == (200, clip)
        assert secret_file.read_text() == secret
    finally:
        stack.stop()


# --- in-process: the clock, PUBLIC_URL, the transcript -----------------------------------


@pytest.fixture
def local_media(settings: Any, tmp_path: Path) -> Any:
    """A filesystem store in this test's tmp dir."""
    settings.STORAGE_BACKEND = "filesystem"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.ALLOW_ANONYMOUS = False
    get_store.cache_clear()
    yield get_store()
    get_store.cache_clear()


def _ready_video(store: Any, token_user: Any, body: bytes) -> Any:
    from django.utils import timezone

    from recordplus.videos.models import Video

    video = Video.objects.create(title="clip", owner=token_user, status=Video.Status.READY, ready_at=timezone.now())
    key = keys.rendition(video.public_id, "webm")
    store.write(key, io.BytesIO(body))
    Video.objects.filter(pk=video.pk).update(video_key=key, content_type="video/webm")
    video.refresh_from_db()
    return video


def _body(response: Any) -> bytes:
    """A streamed answer's bytes (the stream is an async iterator, fed to the ASGI server)."""

    async def collect() -> bytes:
        return b"".join([piece async for piece in response.streaming_content])

    return asyncio.run(collect())


def _write(store: Any, key: str, body: bytes) -> None:
    store.write(key, io.BytesIO(body))


@pytest.fixture
def alice(db: Any) -> tuple[Any, str]:
    from recordplus.accounts.services import user_create_with_token

    return user_create_with_token(username="alice")


@pytest.mark.django_db
def test_it_stops_working_at_the_expiry(local_media: Any, alice: tuple[Any, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from recordplus.videos import media_links

    user, token = alice
    body = b"\x1aE\xdf\xa3 not really a webm, but bytes to serve " * 50
    video = _ready_video(local_media, user, body)
    monkeypatch.setattr(media_links, "now", lambda: 1_900_000_000.0)
    client = Client()
    detail = client.get(f"/api/record/videos/{video.pk}", headers={"Authorization": f"Bearer {token}"}).json()
    url = detail["signed_urls"]["stream"]
    assert detail["signed_urls"]["expires_at"] == 1_900_000_000 + 3600
    assert client.get(f"/api/record/videos/{video.pk}/stream_video").status_code == 401  # no token, no signature

    monkeypatch.setattr(media_links, "now", lambda: 1_900_000_000.0 + 3599.9)
    served = client.get(url)
    assert served.status_code == 200 and _body(served) == body
    monkeypatch.setattr(media_links, "now", lambda: 1_900_000_000.0 + 3600)
    expired = client.get(url)
    assert expired.status_code == 403
    assert "expired" in expired.json()["message"] and expired.json()["detail"] == {"expired_at": 1_900_003_600}


@pytest.mark.django_db
def test_it_uses_public_url_and_mode_ttl(local_media: Any, alice: tuple[Any, str], settings: Any) -> None:
    user, token = alice
    video = _ready_video(local_media, user, b"x" * 100)
    settings.PUBLIC_URL = "https://rec.example.org"
    settings.MEDIA_URL_TTL_SECONDS = 60
    detail = Client().get(f"/api/record/videos/{video.pk}", headers={"Authorization": f"Bearer {token}"}).json()
    urls = detail["signed_urls"]
    assert urls["stream"].startswith(f"https://rec.example.org/api/record/videos/{video.pk}/stream_video?expires=")
    assert urls["expires_at"] - time.time() == pytest.approx(60, abs=5)
    assert urls["thumbnail"] is None and urls["original"] is None and urls["transcript"] is None  # none stored


@pytest.mark.django_db
def test_it_signs_each_transcript_format(local_media: Any, alice: tuple[Any, str]) -> None:
    from recordplus.transcripts.models import Transcript

    user, token = alice
    video = _ready_video(local_media, user, b"x" * 100)
    files = {"vtt": b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n", "srt": b"1\n00:00:00,000 --> 00:00:01,000\nhello\n",
             "txt": b"hello\n"}
    for fmt, body in files.items():
        _write(local_media, keys.transcript(video.public_id, fmt), body)
    Transcript.objects.create(video=video, status=Transcript.Status.DONE, text="hello")
    client = Client()
    detail = client.get(f"/api/record/videos/{video.pk}", headers={"Authorization": f"Bearer {token}"}).json()
    links = detail["signed_urls"]["transcript"]
    assert set(links) == {"vtt", "srt", "txt", "json"}
    for fmt, body in files.items():
        response = client.get(links[fmt])
        assert response.status_code == 200, response.content
        assert response.content == body
    assert client.get(links["json"]).json()["text"] == "hello"
    # The vtt signature does not open the srt.
    borrowed = links["vtt"].replace("format=vtt", "format=srt")
    assert client.get(borrowed).status_code == 403
