"""A declared total (finalize's `chunk_count`, or `last=true` on a chunk) lets assembly start at
once — no settle window — when every index below it is there; a client that declares nothing
keeps the window; a count that lies never leads to a video assembled with a gap."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.test import Client

from recordplus.core import messaging
from recordplus.core.errors import Conflict
from recordplus.core.storage import get_store
from recordplus.videos import services
from recordplus.videos.models import Chunk, Video
from recordplus.videos.services import AssemblyClaim, NotYet
from tests.conftest import Stack
from tests.support import create_video, make_webm, send_chunk

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.FINALIZE_SETTLE_SECONDS = 0.3  # how long finalize waits for missing chunks
    get_store.cache_clear()
    yield
    get_store.cache_clear()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    messages: list[tuple[int, float | None]] = []
    monkeypatch.setattr(messaging, "send_assemble", lambda video_id, delay_seconds=None: messages.append((video_id, delay_seconds)))
    return messages


def video_with(indexes: list[int]) -> Video:
    video = services.video_create(auth=None, title="declared")
    for index in indexes:
        services.chunk_store(video=video, data=io.BytesIO(f"piece {index}".encode()), chunk_index=index)
    return Video.objects.get(pk=video.pk)


def test_it_claims_at_once_with_chunk_count(settings, sent) -> None:  # noqa: ANN001
    settings.FINALIZE_SETTLE_SECONDS = 30  # a window that would certainly still be open
    video = video_with([0, 1, 2])
    finalized = services.video_finalize(video=video, chunk_count=3)
    assert finalized.status == "assembling" and finalized.declared_chunks == 3
    assert sent == [(video.pk, None)]  # enqueued without the settle delay
    claim = services.video_claim_for_assembly(video_id=video.pk)
    assert isinstance(claim, AssemblyClaim) and claim.attempt == 1
    # No chunk lands after the claim, whatever its index.
    with pytest.raises(Conflict):
        services.chunk_store(video=Video.objects.get(pk=video.pk), data=io.BytesIO(b"late"), chunk_index=3)


def test_it_keeps_the_settle_window_without_a_total(settings, sent) -> None:  # noqa: ANN001
    settings.FINALIZE_SETTLE_SECONDS = 30
    video = video_with([0, 1, 2])
    services.video_finalize(video=video)
    assert sent == [(video.pk, 30)]
    wait = services.video_claim_for_assembly(video_id=video.pk)
    assert isinstance(wait, NotYet) and 29 < wait.delay_seconds <= 30.1
    assert Video.objects.get(pk=video.pk).assembly_attempts == 0


def test_last_true_declares_the_total(settings, sent) -> None:  # noqa: ANN001
    settings.FINALIZE_SETTLE_SECONDS = 30
    video = services.video_create(auth=None, title="last")
    services.chunk_store(video=video, data=io.BytesIO(b"zero"), chunk_index=0)
    services.chunk_store(video=video, data=io.BytesIO(b"one"), chunk_index=1, last=True)
    assert Video.objects.get(pk=video.pk).declared_chunks == 2
    with pytest.raises(Conflict, match="beyond the declared total"):
        services.chunk_store(video=video, data=io.BytesIO(b"two"), chunk_index=2)
    services.video_finalize(video=Video.objects.get(pk=video.pk))
    assert isinstance(services.video_claim_for_assembly(video_id=video.pk), AssemblyClaim)


def test_a_count_higher_than_what_was_sent_is_refused_naming_the_missing(sent) -> None:  # noqa: ANN001
    video = video_with([0, 1, 3])
    with pytest.raises(Conflict) as refused:
        services.video_finalize(video=video, chunk_count=5)
    assert refused.value.detail["missing"] == [2, 4]
    video.refresh_from_db()
    assert video.status == "uploading" and sent == []  # still open for the missing ones
    assert services.video_claim_for_assembly(video_id=video.pk) is None  # nothing to assemble


def test_a_count_lower_than_what_was_sent_is_refused(sent) -> None:  # noqa: ANN001
    video = video_with([0, 1, 2, 3])
    with pytest.raises(Conflict) as refused:
        services.video_finalize(video=video, chunk_count=2)
    assert refused.value.detail["extra"] == [2, 3]
    assert Video.objects.get(pk=video.pk).status == "uploading" and sent == []


def test_a_count_contradicting_last_is_refused(sent) -> None:  # noqa: ANN001
    video = services.video_create(auth=None, title="contradiction")
    services.chunk_store(video=video, data=io.BytesIO(b"zero"), chunk_index=0, last=True)
    with pytest.raises(Conflict, match="contradicts"):
        services.video_finalize(video=Video.objects.get(pk=video.pk), chunk_count=3)


def test_the_http_api_reads_chunk_count_and_last(sent) -> None:  # noqa: ANN001
    client = Client()
    video_id = client.post("/api/record/videos", data={"title": "http"}).json()["video_id"]
    for index in range(2):
        answer = client.patch(
            f"/api/record/videos/update_video_chunck?video_id={video_id}&chunk_index={index}&last={'true' if index else 'false'}",
            data=b"piece %d" % index,
            content_type="application/octet-stream",
        )
        assert answer.status_code == 200, answer.content
    assert Video.objects.get(pk=video_id).declared_chunks == 2
    bad = client.patch(
        f"/api/record/videos/update_video_chunck?video_id={video_id}&chunk_index=5&last=maybe",
        data=b"x", content_type="application/octet-stream",
    )
    assert bad.status_code == 400 and bad.json()["detail"] == {"field": "last"}
    assert not Chunk.objects.filter(video_id=video_id, index=5).exists()
    missing = client.post("/api/record/videos/finalize_video_upload", data={"video_id": video_id, "chunk_count": 3})
    assert missing.status_code == 409 and "contradicts" in missing.json()["message"]
    done = client.post(
        "/api/record/videos/finalize_video_upload", data={"video_id": video_id, "chunk_count": 2}, content_type="application/json"
    )
    assert done.status_code == 200, done.content
    assert sent == [(video_id, None)]


def test_a_declared_upload_gets_ready_on_the_embedded_stack(embedded_stack: Stack, tmp_path_factory) -> None:  # noqa: ANN001
    data = make_webm(tmp_path_factory.mktemp("media") / "declared.webm", seconds=2).read_bytes()
    pieces = [data[: len(data) // 2], data[len(data) // 2 :]]
    with embedded_stack.client() as client:
        video_id = create_video(client)
        for index, piece in enumerate(pieces):
            assert send_chunk(client, video_id, piece, index).status_code == 200
        answer = client.post("/api/record/videos/finalize_video_upload", data={"video_id": str(video_id), "chunk_count": "2"})
        assert answer.status_code == 200, answer.text
    video = embedded_stack.wait_for(video_id)
    assert video["status"] == "ready", video
    with embedded_stack.client(follow_redirects=True) as client:
        assert client.get(f"/api/record/videos/{video_id}/original").content == data
