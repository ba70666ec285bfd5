"""Signing in to the web app: the login form, sessions, and the anonymous loopback mode."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.web.conftest import PASSWORD, Persona, signed_in


@pytest.mark.django_db
def test_it_sends_visitors_to_the_login_page_when_sign_in_is_required(local_media: Any) -> None:
    response = Client().get("/record")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=%2Frecord"


@pytest.mark.django_db
def test_it_signs_in_with_the_password_and_returns_to_next(local_media: Any, alice: Persona) -> None:
    client = Client()
    response = client.post("/login", {"username": "alice", "password": PASSWORD, "next": "/record"})
    assert (response.status_code, response["Location"]) == (302, "/record")
    assert client.session.get("_auth_user_id") == str(alice.user.pk)
    page = client.get("/record")
    assert page.status_code == 200 and b'id="rec-start"' in page.content


@pytest.mark.django_db
def test_it_refuses_a_wrong_password_and_keeps_the_visitor_out(local_media: Any, alice: Persona) -> None:
    client = Client()
    response = client.post("/login", {"username": "alice", "password": "wrong password!"})
    assert response.status_code == 200
    assert b"do not match an account" in response.content
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_it_does_not_follow_a_next_link_to_another_site(local_media: Any, alice: Persona) -> None:
    response = Client().post("/login", {"username": "alice", "password": PASSWORD, "next": "https://evil.example/"})
    assert response.status_code == 302 and not response["Location"].startswith("https://evil.example")


@pytest.mark.django_db
def test_it_signs_out_only_by_post(local_media: Any, alice: Persona) -> None:
    client = signed_in(alice)
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_it_shows_the_app_without_sign_in_where_anonymous_use_is_allowed(local_media: Any, settings: Any) -> None:
    settings.ALLOW_ANONYMOUS = True
    from recordplus.videos.models import Video

    Video.objects.create(title="local recording")
    response = Client().get("/")
    assert response.status_code == 200
    assert b"local recording" in response.content


@pytest.mark.django_db
def test_it_serves_its_assets_and_nothing_beside_them(local_media: Any) -> None:
    client = Client()
    css = client.get("/static/web/app.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css") and b".watch" in css.content
    assert client.get("/static/web/record.js")["Content-Type"].startswith("text/javascript")
    # The page names its icon, so browsers do not ask for a /favicon.ico that is not there.
    assert b'rel="icon" href="/static/web/icon.svg"' in client.get("/login").content
    assert client.get("/static/web/icon.svg")["Content-Type"] == "image/svg+xml"
    assert client.get("/static/web/../views.py").status_code == 404
    assert client.get("/static/web/%2e%2e/views.py").status_code == 404
    assert client.get("/static/web/missing.js").status_code == 404
