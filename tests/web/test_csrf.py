"""Writes made with the web app's session need the CSRF token; API tokens never do."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest
from django.test import Client

from recordplus.videos.models import Video
from tests.web.conftest import Persona, signed_in


@pytest.mark.django_db
def test_it_refuses_a_form_post_without_the_csrf_token(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user, title="kept")
    client = signed_in(alice, enforce_csrf=True)
    assert client.post(f"/v/{video.public_id}/rename", {"title": "forged"}).status_code == 403
    assert client.post(f"/v/{video.public_id}/delete").status_code == 403
    assert client.post(f"/v/{video.public_id}/share", {"mode": "link"}).status_code == 403
    video.refresh_from_db()
    assert video.title == "kept" and not video.share_links.exists()
    assert Video.objects.filter(pk=video.pk).exists()


@pytest.mark.django_db
def test_it_accepts_the_form_post_with_the_token(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user, title="old")
    client = signed_in(alice, enforce_csrf=True)
    token = client.cookies["csrftoken"].value
    response = client.post(f"/v/{video.public_id}/rename", {"title": "new title", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    video.refresh_from_db()
    assert video.title == "new title"


@pytest.mark.django_db
def test_it_refuses_session_api_writes_without_the_csrf_header(alice: Persona, local_media: Any) -> None:
    client = signed_in(alice, enforce_csrf=True)
    response = client.post("/api/record/videos", json.dumps({"title": "forged"}), content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]
    assert not Video.objects.filter(title="forged").exists()


@pytest.mark.django_db
def test_it_accepts_session_api_writes_with_the_csrf_header(alice: Persona, local_media: Any) -> None:
    client = signed_in(alice, enforce_csrf=True)
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/api/record/videos", json.dumps({"title": "from the recorder"}), content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 201, response.content
    assert Video.objects.get(pk=response.json()["video_id"]).owner == alice.user
    # Reads need no token: the library's status checks and the player.
    assert client.get(f"/api/record/videos/{response.json()['video_id']}").status_code == 200


@pytest.mark.django_db
def test_it_keeps_token_clients_free_of_csrf(alice: Persona, local_media: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/record/videos", {"title": "by token"}, headers={"Authorization": f"Bearer {alice.token}"}
    )
    assert response.status_code == 201, response.content
    assert Video.objects.get(pk=response.json()["video_id"]).owner == alice.user


@pytest.mark.django_db
def test_it_does_not_let_a_session_stand_in_for_a_wrong_token(alice: Persona, local_media: Any) -> None:
    client = signed_in(alice)
    response = client.get("/api/record/videos", headers={"Authorization": "Bearer rp_wrong"})
    assert response.status_code == 401
