"""The web app behind an ingress and on S3: a script prefix, PUBLIC_URL, and shared media
served from the bucket by a presigned redirect (the cluster's default STREAM_MODE)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Callable

import httpx
import pytest
from django.test import Client
from django.test.utils import override_script_prefix

from recordplus.core.storage import get_store
from recordplus.sharing.services import share_link_create
from tests.web.conftest import VIDEO_BYTES, Persona, signed_in


@pytest.mark.django_db
def test_it_links_everything_under_the_script_prefix(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user)
    client = signed_in(alice)
    # What Django's ASGI handler sets from the server's root_path (uvicorn --root-path /rec).
    with override_script_prefix("/rec/"):
        html = client.get("/").content.decode()
        watch = client.get(f"/v/{video.public_id}").content.decode()
    assert 'href="/rec/static/web/app.css"' in html and 'data-root="/rec/"' in html
    assert f'href="/rec/v/{video.public_id}"' in html
    assert f'src="/rec/api/record/videos/{video.pk}/thumbnail"' in html
    assert f'src="/rec/api/record/videos/{video.pk}/stream_video"' in watch
    assert f'action="/rec/v/{video.public_id}/share"' in watch


@pytest.mark.django_db
def test_it_hands_out_share_links_on_the_public_url(alice: Persona, ready_video: Callable[..., Any], settings: Any) -> None:
    settings.PUBLIC_URL = "https://rec.example.com"
    video = ready_video(alice.user)
    link = share_link_create(video=video)
    html = signed_in(alice).get(f"/v/{video.public_id}").content.decode()
    assert f'value="https://rec.example.com/s/{link.token}"' in html
    shared = Client().get(f"/s/{link.token}").content.decode()
    assert f'<meta property="og:image" content="https://rec.example.com/s/{link.token}/thumbnail">' in shared


@pytest.fixture
def s3_media(settings: Any, moto_server: str) -> Iterator[Any]:
    """The cluster's storage: a fresh bucket on moto's S3 server, redirect streaming."""
    settings.STORAGE_BACKEND = "s3"
    settings.S3_ENDPOINT_URL = moto_server
    settings.S3_PUBLIC_ENDPOINT_URL = ""
    settings.S3_BUCKET = f"web-{uuid.uuid4().hex[:8]}"
    settings.S3_ACCESS_KEY_ID = settings.S3_SECRET_ACCESS_KEY = "testing"
    settings.S3_CREATE_BUCKET = True
    settings.STREAM_MODE = "redirect"
    settings.ALLOW_ANONYMOUS = False
    get_store.cache_clear()
    store = get_store()
    store.ensure_ready()
    yield store
    get_store.cache_clear()


@pytest.mark.django_db
def test_it_plays_a_shared_video_from_the_bucket(alice: Persona, s3_media: Any) -> None:
    import io

    from django.utils import timezone

    from recordplus.core.storage import keys
    from recordplus.videos.models import Video

    video = Video.objects.create(title="on s3", owner=alice.user, status=Video.Status.READY, ready_at=timezone.now())
    key = keys.rendition(video.public_id, "webm")
    s3_media.write(key, io.BytesIO(VIDEO_BYTES))
    Video.objects.filter(pk=video.pk).update(video_key=key, content_type="video/webm")
    link = share_link_create(video=video)
    answer = Client().get(f"/s/{link.token}/video")
    assert answer.status_code == 302
    location = answer["Location"]
    assert location.startswith(s3_media_endpoint(s3_media)) and link.token not in location
    ranged = httpx.get(location, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == VIDEO_BYTES[:100]
    link.revoked_at = timezone.now()
    link.save()
    assert Client().get(f"/s/{link.token}/video").status_code == 404


def s3_media_endpoint(store: Any) -> str:
    return store.client.meta.endpoint_url
