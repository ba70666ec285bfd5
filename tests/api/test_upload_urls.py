"""Personal upload URLs: the capability a content script uses instead of a token.

The original extension uploads from a content script in the recorded page, so its requests
carry that page's Origin and no header of ours. Through `/u/<secret>/api/record/` such a client
may create, upload and finalize (answered with CORS for any origin); nothing else, and only as
the URL's owner. A wrong or revoked URL is a 404 at once.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.conftest import Stack
from tests.support import fetch, make_webm, stored_original

PAGE = "https://docs.example.com"


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_webm(tmp_path_factory.mktemp("media") / "upload-url.webm", seconds=3).read_bytes()


def owner_of(stack: Stack) -> tuple[str | None, str | None]:
    """(username, token) whose upload URL the test uses: the local owner when embedded."""
    if stack.mode == "embedded":
        return None, None
    name = f"u{uuid.uuid4().hex[:8]}"
    return name, stack.create_user(name)


def upload_url(stack: Stack, username: str | None, *extra: str) -> str:
    args = ["upload-url", *([username] if username else []), "--base-url", stack.url, *extra]
    url = stack.run(*args).stdout.strip().splitlines()[-1]
    assert re.fullmatch(re.escape(stack.url) + r"/u/up_[A-Za-z0-9_-]{20,}/api/record/", url), url
    return url


def multipart(field: str, data: bytes, **fields: str) -> dict:
    return {"files": {field: ("1700000000000_abcdefgh.webm", data, "video/webm")}, "data": fields}


def test_it_lets_a_page_origin_create_upload_and_finalize(stack: Stack, webm: bytes) -> None:
    username, token = owner_of(stack)
    base = upload_url(stack, username)
    third = len(webm) // 3
    pieces = [webm[:third], webm[third : 2 * third], webm[2 * third :]]
    headers = {"Origin": PAGE}
    with httpx.Client(timeout=60) as client:
        created = client.post(f"{base}videos/", headers=headers, **multipart("video_file", pieces[0], title="Video Title"))
        assert created.status_code == 201, created.text
        assert created.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in created.headers
        video_id = created.json()["video_id"]

        preflight = client.options(
            f"{base}videos/{video_id}/update_video_file/",
            headers={**headers, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "content-type"},
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "PATCH" in preflight.headers["access-control-allow-methods"]

        for piece in pieces[1:]:
            sent = client.patch(f"{base}videos/{video_id}/update_video_file/", headers=headers, **multipart("video_chunk", piece))
            assert sent.status_code == 200, sent.text
            assert sent.headers["access-control-allow-origin"] == "*"
        finalized = client.post(f"{base}videos/{video_id}/finalize_video_upload/", headers=headers)
        assert finalized.status_code == 200, finalized.text

    video = stack.wait_for(video_id, token=token)
    assert video["status"] == "ready", video
    assert fetch(stack, f"/api/record/videos/{video_id}/original", token).content == webm
    assert stored_original(stack, video) == webm
    with stack.client(token) as owner:
        listed = [v["id"] for v in owner.get("/api/record/videos").json()]
    assert video_id in listed  # it belongs to the URL's owner


def test_it_grants_nothing_but_uploading(stack: Stack, webm: bytes) -> None:
    username, token = owner_of(stack)
    base = upload_url(stack, username)
    with stack.client(token) as owner:
        video_id = owner.post("/api/record/videos", data={"title": "mine"}).json()["video_id"]
    with httpx.Client(timeout=30, headers={"Origin": PAGE}) as client:
        for method, path in (
            ("GET", "videos/"),
            ("GET", f"videos/{video_id}"),
            ("GET", f"videos/{video_id}/stream_video/"),
            ("GET", f"videos/{video_id}/original"),
            ("GET", f"videos/{video_id}/transcript"),
            ("DELETE", f"videos/{video_id}"),
        ):
            response = client.request(method, f"{base}{path}")
            assert response.status_code == 403, (method, path, response.text)
            assert "can only create videos" in response.json()["message"]
            assert response.headers["access-control-allow-origin"] == "*"
        # The upload status is allowed: a client resumes from it.
        status = client.get(f"{base}videos/{video_id}/upload")
        assert status.status_code == 200 and status.json()["received"] == []
    with stack.client(token) as owner:
        assert owner.get(f"/api/record/videos/{video_id}").status_code == 200  # not deleted


def test_it_only_writes_to_its_owners_videos(cluster_stack: Stack, webm: bytes) -> None:
    alice = f"a{uuid.uuid4().hex[:8]}"
    cluster_stack.create_user(alice)
    bob_token = cluster_stack.create_user(f"b{uuid.uuid4().hex[:8]}")
    with cluster_stack.client(bob_token) as bob:
        bobs = bob.post("/api/record/videos", data={"title": "bob's"}).json()["video_id"]
    base = upload_url(cluster_stack, alice)
    with httpx.Client(timeout=30) as client:
        sent = client.patch(f"{base}videos/{bobs}/update_video_file/", **multipart("video_chunk", webm[:1000]))
        assert sent.status_code == 404, sent.text
    with cluster_stack.client(bob_token) as bob:
        assert bob.get(f"/api/record/videos/{bobs}/upload").json()["chunks"] == 0


def test_it_refuses_wrong_and_revoked_urls_at_once(stack: Stack, webm: bytes) -> None:
    username = f"r{uuid.uuid4().hex[:8]}"  # a user's URL, so the local default stays as printed
    stack.create_user(username)
    old = upload_url(stack, username)
    with httpx.Client(timeout=30) as client:
        assert client.post(f"{old}videos/", **multipart("video_file", webm[:1000], title="t")).status_code == 201
        wrong = client.post(old.replace("/u/up_", "/u/up_x"), **multipart("video_file", webm[:1000], title="t"))
        assert wrong.status_code == 404
        assert "not valid" in wrong.json()["message"]
        assert wrong.headers["access-control-allow-origin"] == "*"

        new = upload_url(stack, username, "--rotate")
        assert new != old
        revoked = client.post(f"{old}videos/", **multipart("video_file", webm[:1000], title="t"))
        assert revoked.status_code == 404, revoked.text
        assert client.post(f"{new}videos/", **multipart("video_file", webm[:1000], title="t")).status_code == 201


def test_it_prints_the_same_local_upload_url_at_every_start(embedded_stack: Stack) -> None:
    log = (embedded_stack.workdir / "api.log").read_text(errors="replace")
    printed = re.findall(r"upload URL for the browser extension: (\S+)", log)
    assert printed, log[-3000:]
    current = upload_url(embedded_stack, None)
    assert printed[-1] == current
    assert upload_url(embedded_stack, None) == current  # stable until rotated
    secret_file = embedded_stack.data_dir / "upload-url.secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600


def test_it_needs_a_user_in_cluster_mode(cluster_stack: Stack) -> None:
    result = cluster_stack.run("upload-url", "--base-url", cluster_stack.url, check=False)
    assert result.returncode == 2
    assert "name the user" in result.stderr
