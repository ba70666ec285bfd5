"""The watch page is its owner's: another user (or a guessed id) gets 404 and learns nothing."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

import pytest
from django.test import Client

from tests.web.conftest import VIDEO_BYTES, VTT, Persona, body_of, signed_in
from tests.web.test_deployments import s3_media  # noqa: F401 (the bucket fixture)


@pytest.mark.django_db
def test_it_shows_the_owner_the_player_captions_and_clickable_words(
    alice: Persona, ready_video: Callable[..., Any]
) -> None:
    video = ready_video(alice.user)
    page = signed_in(alice).get(f"/v/{video.public_id}")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'src="/api/record/videos/{video.pk}/stream_video"' in html
    assert re.search(r'<track kind="captions" src="/api/record/videos/\d+/transcript\?format=vtt" srclang="en" label="English" default>', html)
    # The page's own captions button (shown by watch.js), named with the language.
    assert '<button type="button" class="button" id="captions-toggle" aria-pressed="false" hidden>Captions (English)</button>' in html
    words = json.loads(re.search(r'<script id="words-data" type="application/json">(.*?)</script>', html, re.S)[1])
    assert [w["w"] for w in words] == ["hello", "shared", "world"]
    assert words[1]["s"] == pytest.approx(0.8)


@pytest.mark.django_db
def test_it_answers_404_for_another_users_video(alice: Persona, bob: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user, title="Alice's secret plan")
    page = signed_in(bob).get(f"/v/{video.public_id}")
    assert page.status_code == 404
    assert b"secret plan" not in page.content
    # The same answer as for an id that never existed: nothing tells bob the video is there.
    assert signed_in(bob).get("/v/doesnotexist").status_code == 404


@pytest.mark.django_db
def test_it_keeps_other_users_out_of_the_writes_too(alice: Persona, bob: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user, title="Alice's")
    client = signed_in(bob)
    assert client.post(f"/v/{video.public_id}/rename", {"title": "pwned"}).status_code == 404
    assert client.post(f"/v/{video.public_id}/share", {"mode": "link"}).status_code == 404
    assert client.post(f"/v/{video.public_id}/delete").status_code == 404
    video.refresh_from_db()
    assert video.title == "Alice's" and not video.share_links.exists()


@pytest.mark.django_db
def test_it_shows_a_processing_state_that_checks_back(alice: Persona, local_media: Any) -> None:
    from recordplus.videos.models import Video

    video = Video.objects.create(title="still going", owner=alice.user, status=Video.Status.ASSEMBLING, progress=0.42)
    html = signed_in(alice).get(f"/v/{video.public_id}").content.decode()
    assert "Processing 42%" in html and 'data-busy="1"' in html and "<video" not in html
    assert f'data-status-url="/api/record/videos/{video.pk}"' in html


@pytest.mark.django_db
def test_it_puts_no_token_in_the_html(alice: Persona, ready_video: Callable[..., Any]) -> None:
    from recordplus.accounts.services import upload_url_create

    _, upload_secret = upload_url_create(user=alice.user)
    video = ready_video(alice.user)
    client = signed_in(alice)
    client.post(f"/v/{video.public_id}/share", {"mode": "link"})
    for path in ("/", "/record", f"/v/{video.public_id}"):
        html = client.get(path).content.decode()
        assert alice.token not in html and "rp_" not in html, path
        assert upload_secret not in html and "/u/" not in html, path
        assert client.cookies["sessionid"].value not in html, path


@pytest.mark.django_db
def test_it_needs_sign_in_for_the_watch_page(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user)
    assert Client().get(f"/v/{video.public_id}").status_code == 302


@pytest.mark.django_db
def test_it_downloads_the_video_captions_and_transcript_as_files_named_after_the_title(
    alice: Persona, bob: Persona, ready_video: Callable[..., Any]
) -> None:
    video = ready_video(alice.user, title='Q3: "plan"/draft')
    client = signed_in(alice)
    html = client.get(f"/v/{video.public_id}").content.decode()
    for what in ("video", "captions", "transcript"):
        assert f'href="/v/{video.public_id}/download/{what}" download>' in html, what
    got = client.get(f"/v/{video.public_id}/download/video")
    # An attachment from this server (a `download` link is ignored after a cross-origin redirect).
    assert got.status_code == 200 and got["Content-Type"] == "video/webm"
    assert got["Content-Disposition"] == 'attachment; filename="Q3- plan-draft.webm"'
    assert body_of(got) == VIDEO_BYTES
    ranged = client.get(f"/v/{video.public_id}/download/video", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and body_of(ranged) == VIDEO_BYTES[10:20]
    captions = client.get(f"/v/{video.public_id}/download/captions")
    assert captions["Content-Type"].startswith("text/vtt") and captions.content.decode() == VTT
    assert captions["Content-Disposition"] == 'attachment; filename="Q3- plan-draft.vtt"'
    text = client.get(f"/v/{video.public_id}/download/transcript")
    assert text["Content-Type"].startswith("text/plain") and text.content == b"hello shared world"
    assert client.get(f"/v/{video.public_id}/download/settings").status_code == 404
    assert signed_in(bob).get(f"/v/{video.public_id}/download/video").status_code == 404
    assert Client().get(f"/v/{video.public_id}/download/video").status_code == 302  # to the login page


@pytest.mark.django_db
def test_it_downloads_through_a_share_link_until_it_is_revoked(alice: Persona, ready_video: Callable[..., Any]) -> None:
    from recordplus.sharing.models import ShareLink

    video = ready_video(alice.user, title="Launch")
    owner = signed_in(alice)
    owner.post(f"/v/{video.public_id}/share", {"mode": "link"})
    token = ShareLink.objects.get(video=video).token
    visitor = Client()
    assert f'href="/s/{token}/download/captions" download>' in visitor.get(f"/s/{token}").content.decode()
    got = visitor.get(f"/s/{token}/download/video")
    assert got["Content-Disposition"] == 'attachment; filename="Launch.webm"' and body_of(got) == VIDEO_BYTES
    assert visitor.get(f"/s/{token}/download/captions").content.decode() == VTT
    owner.post(f"/v/{video.public_id}/share", {"mode": "private"})
    assert visitor.get(f"/s/{token}/download/video").status_code == 404
    assert visitor.get(f"/s/{token}/download/transcript").status_code == 404


@pytest.mark.django_db
def test_it_refuses_to_download_a_video_still_processing(alice: Persona, local_media: Any) -> None:
    from recordplus.videos.models import Video

    video = Video.objects.create(title="still going", owner=alice.user, status=Video.Status.ASSEMBLING)
    got = signed_in(alice).get(f"/v/{video.public_id}/download/video")
    assert got.status_code == 409 and b"not ready yet" in got.content


@pytest.mark.django_db
def test_it_downloads_a_video_straight_from_the_bucket_as_an_attachment(alice: Persona, s3_media: Any) -> None:
    """The bugs: a download link that redirects to the player's inline presigned URL (the
    browser opens the video in the tab: `download` is ignored after a cross-origin redirect),
    or one that streams the bytes through the API pod instead of the bucket."""
    import io

    import httpx
    from django.utils import timezone

    from recordplus.core.storage import keys
    from recordplus.videos.models import Video

    video = Video.objects.create(title="on s3 · été", owner=alice.user, status=Video.Status.READY, ready_at=timezone.now())
    key = keys.rendition(video.public_id, "webm")
    s3_media.write(key, io.BytesIO(VIDEO_BYTES))
    Video.objects.filter(pk=video.pk).update(video_key=key, content_type="video/webm")
    client = signed_in(alice)
    player = client.get(f"/api/record/videos/{video.pk}/stream_video")
    assert player.status_code == 302 and "inline" in httpx.get(player["Location"], timeout=30).headers["content-disposition"]
    got = client.get(f"/v/{video.public_id}/download/video")
    assert got.status_code == 302, got.headers  # to the bucket, not through this server
    saved = httpx.get(got["Location"], timeout=30)
    assert saved.status_code == 200 and saved.content == VIDEO_BYTES
    assert saved.headers["content-type"] == "video/webm"
    assert saved.headers["content-disposition"] == (
        "attachment; filename=\"on s3 _ _t_.webm\"; filename*=UTF-8''on%20s3%20%C2%B7%20%C3%A9t%C3%A9.webm"
    )