"""The library: my recordings newest first, search by title and transcript, rename, delete."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from recordplus.videos.models import Video
from tests.web.conftest import Persona, signed_in


def _titles(html: str) -> list[str]:
    import re

    return re.findall(r'<h2><a href="/v/[^"]+">([^<]+)</a></h2>', html)


@pytest.mark.django_db
def test_it_lists_my_recordings_newest_first_with_their_state(
    alice: Persona, bob: Persona, ready_video: Callable[..., Any]
) -> None:
    ready_video(alice.user, title="first")
    ready_video(alice.user, title="second")
    Video.objects.create(title="broken", owner=alice.user, status=Video.Status.FAILED, error="the upload is not a video")
    ready_video(bob.user, title="bob's")
    html = signed_in(alice).get("/").content.decode()
    assert _titles(html) == ["broken", "second", "first"]
    assert "Failed: the upload is not a video" in html
    assert f'/api/record/videos/{Video.objects.get(title="first").pk}/thumbnail' in html


@pytest.mark.django_db
def test_it_searches_titles_and_transcript_text(alice: Persona, ready_video: Callable[..., Any]) -> None:
    ready_video(alice.user, title="Budget", said="numbers for the finance team")
    ready_video(alice.user, title="Roadmap", said="what we ship in spring")
    client = signed_in(alice)
    assert _titles(client.get("/", {"q": "roadmap"}).content.decode()) == ["Roadmap"]
    assert _titles(client.get("/", {"q": "FINANCE"}).content.decode()) == ["Budget"]
    assert "No recording matches" in client.get("/", {"q": "nothing like it"}).content.decode()


@pytest.mark.django_db
def test_it_renames_and_refuses_a_blank_title(alice: Persona, ready_video: Callable[..., Any]) -> None:
    video = ready_video(alice.user, title="old")
    client = signed_in(alice)
    assert client.post(f"/v/{video.public_id}/rename", {"title": "  Demo for Ana  "}).status_code == 302
    video.refresh_from_db()
    assert video.title == "Demo for Ana"
    refused = client.post(f"/v/{video.public_id}/rename", {"title": "   "})
    assert refused.status_code == 400 and b"must not be blank" in refused.content
    assert client.post(f"/v/{video.public_id}/rename", {"title": "x" * 256}).status_code == 400
    video.refresh_from_db()
    assert video.title == "Demo for Ana"


@pytest.mark.django_db
def test_it_deletes_with_a_confirmation_and_the_stored_files_go(alice: Persona, ready_video: Callable[..., Any], local_media: Any) -> None:
    video = ready_video(alice.user, title="to go")
    client = signed_in(alice)
    html = client.get("/").content.decode()
    assert 'data-confirm="Delete “to go”?' in html
    prefix = video.storage_prefix
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert client.post(f"/v/{video.public_id}/delete").status_code == 302
    assert not Video.objects.filter(pk=video.pk).exists()
    assert not local_media.exists(f"{prefix}thumbnail.jpg")
    assert client.get(f"/v/{video.public_id}").status_code == 404


@pytest.mark.django_db
def test_it_shows_how_far_a_transcription_has_got(alice: Persona, ready_video: Callable[..., Any]) -> None:
    from recordplus.transcripts.models import Transcript

    video = ready_video(alice.user, title="long talk")
    Transcript.objects.update_or_create(video=video, defaults={"status": "running", "progress": 0.42})
    html = signed_in(alice).get("/").content.decode()
    assert "Ready · transcribing 42%" in html
    # The API the page polls carries the same figure.
    detail = signed_in(alice).get(f"/api/record/videos/{video.pk}").json()
    assert detail["transcription"]["status"] == "running" and detail["transcription"]["progress"] == 0.42


@pytest.mark.django_db
def test_it_shows_each_recordings_length_as_a_clock(alice: Persona, ready_video: Callable[..., Any]) -> None:
    short, long = ready_video(alice.user, title="short"), ready_video(alice.user, title="long")
    Video.objects.filter(pk=short.pk).update(duration=12.6)
    Video.objects.filter(pk=long.pk).update(duration=3725.2)
    html = signed_in(alice).get("/").content.decode()
    # On the thumbnail (for the eye) and in the line under the title (for a screen reader, which
    # skips the thumbnail link): 12.6 s rounds to 0:13, an hour and more gets its hours.
    for tile_id, clock in ((short.pk, "0:13"), (long.pk, "1:02:05")):
        tile = html.split(f'data-video-id="{tile_id}"', 1)[1].split("</li>", 1)[0]
        assert f'<span class="duration" data-duration><span data-clock>{clock}</span></span>' in tile, tile
        assert f"· Duration <span data-clock>{clock}</span>" in tile, tile


@pytest.mark.django_db
def test_it_shows_uploading_and_how_far_processing_has_got(alice: Persona, local_media: Any) -> None:
    uploading = Video.objects.create(title="still recording", owner=alice.user, status=Video.Status.UPLOADING)
    Video.objects.create(title="being put together", owner=alice.user, status=Video.Status.ASSEMBLING, progress=0.374)
    html = signed_in(alice).get("/").content.decode()
    assert '<span class="stage stage-uploading" data-stage>Uploading</span>' in html
    assert '<span class="stage stage-assembling" data-stage>Processing 37%</span>' in html
    # Both are checked again by library.js (data-busy); no length is shown before there is one.
    assert html.count('data-busy="1"') == 2
    tile = html.split(f'data-video-id="{uploading.pk}"', 1)[1].split("</li>", 1)[0]
    assert '<span class="duration" data-duration hidden>' in tile, tile
