"""Share links: anyone with the link watches without an account; revoked or expired → 404;
the shared page reveals nothing else of the owner's and cannot reach their API."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Callable

import pytest
from django.test import Client
from django.utils import timezone

from recordplus.sharing.models import ShareLink
from tests.web.conftest import VIDEO_BYTES, VTT, Persona, body_of, signed_in


def _share(client: Client, video: Any, **form: str) -> ShareLink:
    response = client.post(f"/v/{video.public_id}/share", {"mode": "link", **form})
    assert response.status_code == 302, response.content[:400]
    return ShareLink.objects.filter(video=video, revoked_at__isnull=True).get()


@pytest.mark.django_db
def test_it_lets_anyone_with_the_link_watch(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user, title="Launch demo")
    link = _share(signed_in(alice), video)
    visitor = Client()
    page = visitor.get(f"/s/{link.token}")
    html = page.content.decode()
    assert page.status_code == 200 and "Launch demo" in html
    assert f'<meta property="og:title" content="Launch demo">' in html
    assert f'<meta property="og:image" content="http://testserver/s/{link.token}/thumbnail">' in html
    assert f'src="/s/{link.token}/video"' in html and f'src="/s/{link.token}/captions"' in html
    ranged = visitor.get(f"/s/{link.token}/video", headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged["Content-Range"] == f"bytes 100-199/{len(VIDEO_BYTES)}"
    assert body_of(ranged) == VIDEO_BYTES[100:200]
    assert visitor.get(f"/s/{link.token}/captions").content.decode() == VTT
    assert visitor.get(f"/s/{link.token}/thumbnail").status_code == 200
    assert visitor.get(f"/s/{link.token}/settings").status_code == 404


@pytest.mark.django_db
def test_it_answers_404_once_the_link_is_revoked(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user)
    owner = signed_in(alice)
    link = _share(owner, video)
    assert owner.post(f"/v/{video.public_id}/share", {"mode": "private"}).status_code == 302
    visitor = Client()
    assert visitor.get(f"/s/{link.token}").status_code == 404
    assert visitor.get(f"/s/{link.token}/video").status_code == 404
    assert visitor.get(f"/s/{link.token}/captions").status_code == 404
    assert "Private: only you" in owner.get(f"/v/{video.public_id}").content.decode()


@pytest.mark.django_db
def test_it_retires_the_old_link_when_a_new_one_is_made(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user)
    owner = signed_in(alice)
    old = _share(owner, video)
    new = _share(owner, video)
    assert new.token != old.token
    assert Client().get(f"/s/{old.token}").status_code == 404
    assert Client().get(f"/s/{new.token}").status_code == 200
    assert f"http://testserver/s/{new.token}" in owner.get(f"/v/{video.public_id}").content.decode()


@pytest.mark.django_db
def test_it_answers_404_after_the_expiry(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    link = _share(signed_in(alice), video, mode="expiring", expires=tomorrow)
    assert link.expires_at is not None and link.expires_at.date().isoformat() == tomorrow
    assert Client().get(f"/s/{link.token}").status_code == 200
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # time passes
    assert Client().get(f"/s/{link.token}").status_code == 404
    assert Client().get(f"/s/{link.token}/video").status_code == 404


@pytest.mark.django_db
def test_it_refuses_an_expiry_in_the_past_and_keeps_the_video_private(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user)
    owner = signed_in(alice)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    response = owner.post(f"/v/{video.public_id}/share", {"mode": "expiring", "expires": yesterday})
    assert response.status_code == 400 and b"in the future" in response.content
    response = owner.post(f"/v/{video.public_id}/share", {"mode": "expiring", "expires": "soon"})
    assert response.status_code == 400
    assert not ShareLink.objects.filter(video=video).exists()


@pytest.mark.django_db
def test_it_reveals_nothing_else_of_the_owner(alice: Persona, ready_video: Callable[..., Any]) -> None:
    shared = ready_video(alice.user, title="Public talk")
    ready_video(alice.user, title="Private diary")
    link = _share(signed_in(alice), shared)
    visitor = Client()
    page = visitor.get(f"/s/{link.token}")
    html = page.content.decode()
    assert "Private diary" not in html and "alice" not in html.lower()
    assert alice.token not in html and "rp_" not in html
    assert "/api/" not in html and 'href="/"' not in html and "Sign in" not in html
    assert f"/v/{shared.public_id}" not in html
    assert "sessionid" not in page.cookies and "csrftoken" not in page.cookies
    assert page["Referrer-Policy"] == "no-referrer"


@pytest.mark.django_db
def test_it_refuses_api_calls_that_carry_only_a_share_token(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user)
    link = _share(signed_in(alice), video)
    visitor = Client()
    visitor.get(f"/s/{link.token}")  # whatever the shared page gives a browser, it is no API access
    for headers in ({}, {"Authorization": f"Bearer {link.token}"}):
        assert visitor.get("/api/record/videos", headers=headers).status_code == 401
        assert visitor.get(f"/api/record/videos/{video.pk}", headers=headers).status_code == 401
        assert visitor.get(f"/api/record/videos/{video.pk}/stream_video", headers=headers).status_code == 401
        assert visitor.delete(f"/api/record/videos/{video.pk}", headers=headers).status_code == 401
    assert visitor.get(f"/api/record/videos/{video.pk}?share={link.token}").status_code == 401
    assert video.__class__.objects.filter(pk=video.pk).exists()


@pytest.mark.django_db
def test_it_serves_a_shared_video_that_is_still_processing_as_a_waiting_page(alice: Persona, local_media: Any) -> None:
    from recordplus.sharing.services import share_link_create
    from recordplus.videos.models import Video

    video = Video.objects.create(title="soon", owner=alice.user, status=Video.Status.ASSEMBLING)
    link = share_link_create(video=video)
    page = Client().get(f"/s/{link.token}")
    assert page.status_code == 200 and b"<video" not in page.content
    assert re.search(rb"Processing \d+%", page.content)
    assert Client().get(f"/s/{link.token}/video").status_code == 409
