"""The watch page is its owner's: another user (or a guessed id) gets 404 and learns nothing."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

import pytest
from django.test import Client

from tests.web.conftest import Persona, signed_in


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
