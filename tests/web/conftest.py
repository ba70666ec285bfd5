"""Personas and stored recordings for the web app's in-process tests (Django test client).

alice and bob each have a password (for the web app) and an API token; `ready_video` makes a
finished recording with a thumbnail, captions and a transcript in this test's own media folder.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from recordplus.core.storage import get_store, keys

PASSWORD = "correct horse battery"
VIDEO_BYTES = bytes(range(256)) * 40  # 10 240 bytes: enough for ranges
VTT = "WEBVTT\n\n00:00.500 --> 00:01.500\nhello shared world\n"


@dataclass
class Persona:
    user: Any
    token: str
    name: str


@pytest.fixture
def local_media(settings: Any, tmp_path: Path) -> Iterator[Any]:
    """A filesystem store in this test's tmp dir; sign-in required (ALLOW_ANONYMOUS off)."""
    settings.STORAGE_BACKEND = "filesystem"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STREAM_MODE = "redirect"
    settings.ALLOW_ANONYMOUS = False
    get_store.cache_clear()
    yield get_store()
    get_store.cache_clear()


def _persona(name: str) -> Persona:
    from recordplus.accounts.services import user_create_with_token, user_set_password

    user, token = user_create_with_token(username=name)
    user_set_password(user=user, password=PASSWORD)
    return Persona(user=user, token=token, name=name)


@pytest.fixture
def alice(db: Any) -> Persona:
    return _persona("alice")


@pytest.fixture
def bob(db: Any) -> Persona:
    return _persona("bob")


def signed_in(persona: Persona, *, enforce_csrf: bool = False) -> Client:
    """A browser-like client signed in through the login form (not force_login: the form is
    part of what is tested)."""
    client = Client(enforce_csrf_checks=enforce_csrf)
    if enforce_csrf:
        client.get("/login")
        token = client.cookies["csrftoken"].value
        response = client.post("/login", {"username": persona.name, "password": PASSWORD, "csrfmiddlewaretoken": token})
    else:
        response = client.post("/login", {"username": persona.name, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


@pytest.fixture
def ready_video(local_media: Any) -> Callable[..., Any]:
    """Make a ready recording of `owner` with its media and a finished transcript stored."""
    from recordplus.transcripts.models import Transcript
    from recordplus.videos.models import Video

    def make(owner: Any, title: str = "Quarterly review", said: str = "hello shared world") -> Video:
        video = Video.objects.create(title=title, owner=owner, status=Video.Status.READY, ready_at=timezone.now())
        store = local_media
        video_key, thumb_key = keys.rendition(video.public_id, "webm"), keys.thumbnail(video.public_id)
        store.write(video_key, io.BytesIO(VIDEO_BYTES))
        store.write(thumb_key, io.BytesIO(b"\xff\xd8\xff fake jpeg"))
        store.write(keys.transcript(video.public_id, "vtt"), io.BytesIO(VTT.encode()))
        store.write(keys.transcript(video.public_id, "txt"), io.BytesIO(said.encode()))
        Video.objects.filter(pk=video.pk).update(
            video_key=video_key, thumbnail_key=thumb_key, content_type="video/webm", duration=2.0, size=len(VIDEO_BYTES)
        )
        words = [{"word": w, "start": 0.5 + i * 0.3, "end": 0.7 + i * 0.3, "score": 0.9} for i, w in enumerate(said.split())]
        Transcript.objects.create(
            video=video,
            status=Transcript.Status.DONE,
            language="en",
            text=said,
            segments=[{"start": 0.5, "end": 1.5, "text": said, "words": words}],
        )
        video.refresh_from_db()
        return video

    return make


def body_of(response: Any) -> bytes:
    """A response's bytes, streamed (Range answers are async iterators) or not."""
    import asyncio

    if not getattr(response, "streaming", False):
        return response.content

    async def collect() -> bytes:
        return b"".join([piece async for piece in response.streaming_content])

    return asyncio.run(collect())
