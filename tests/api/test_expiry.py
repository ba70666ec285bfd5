"""Idle unfinished uploads expire (UPLOAD_EXPIRY_SECONDS): status `expired`, chunk rows and every
stored object gone (on disk and on S3), and further chunks or finalize answer 410 JSON.

Rows are backdated instead of waiting; the reconciler's pass is called as the serve loop calls it.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from recordplus.cli import _reconcile
from recordplus.core.errors import Gone
from recordplus.core.storage import get_store, keys
from recordplus.videos import services
from recordplus.videos.models import Chunk, Video

pytestmark = pytest.mark.django_db(transaction=True)

DAY = 24 * 60 * 60


@pytest.fixture(params=["disk", "s3"])
def store(request: pytest.FixtureRequest, settings, tmp_path: Path) -> Iterator[str]:  # noqa: ANN001
    """Each test runs against the filesystem store and against moto's S3 server."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_EXPIRY_SECONDS = DAY
    if request.param == "s3":
        settings.STORAGE_BACKEND = "s3"
        settings.S3_ENDPOINT_URL = request.getfixturevalue("moto_server")
        settings.S3_BUCKET = f"expiry-{uuid.uuid4().hex[:8]}"
        settings.S3_ACCESS_KEY_ID = settings.S3_SECRET_ACCESS_KEY = "testing"
        settings.S3_CREATE_BUCKET = True
    get_store.cache_clear()
    get_store().ensure_ready()
    yield request.param
    get_store.cache_clear()


def stored(public_id: str) -> list[str]:
    store = get_store()
    prefix = keys.video_prefix(public_id)
    if store.kind == "s3":
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix).get("Contents", [])
        return [item["Key"] for item in listed]
    root = Path(store.root) / prefix
    return [str(p) for p in root.rglob("*") if p.is_file()] if root.exists() else []


def upload_started(title: str, chunks: int = 2) -> Video:
    video = services.video_create(auth=None, title=title)
    for index in range(chunks):
        services.chunk_store(video=video, data=io.BytesIO(b"x" * 1000 + bytes([index])), chunk_index=index)
    return Video.objects.get(pk=video.pk)


def backdate(video: Video, seconds: float) -> None:
    then = timezone.now() - timedelta(seconds=seconds)
    Video.objects.filter(pk=video.pk).update(created_at=then, last_chunk_at=then)


def test_it_expires_an_idle_upload_and_empties_its_storage(store: str) -> None:
    idle = upload_started("idle")
    assert len(stored(idle.public_id)) == 2
    backdate(idle, DAY + 60)
    _reconcile(None)  # the reconciler's pass, as `serve` runs it
    idle.refresh_from_db()
    assert idle.status == "expired"
    assert "UPLOAD_EXPIRY_SECONDS" in idle.error
    assert not Chunk.objects.filter(video=idle).exists()
    assert stored(idle.public_id) == []


def test_it_leaves_recent_and_finalized_uploads_alone(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recordplus.core.messaging.send_assemble", lambda *a, **k: None)
    recent = upload_started("recent")
    backdate(recent, DAY - 600)
    # Created long ago, but a chunk arrived a minute ago: still active.
    active = upload_started("active")
    Video.objects.filter(pk=active.pk).update(
        created_at=timezone.now() - timedelta(seconds=3 * DAY), last_chunk_at=timezone.now() - timedelta(seconds=60)
    )
    finalized = upload_started("finalized")
    services.video_finalize(video=finalized, chunk_count=2)
    backdate(finalized, 3 * DAY)
    assert services.video_expire_idle() == []
    for video in (recent, active, finalized):
        video.refresh_from_db()
        assert video.status in ("uploading", "assembling")
        assert len(stored(video.public_id)) == 2


def test_it_never_expires_when_set_to_zero(store: str, settings) -> None:  # noqa: ANN001
    settings.UPLOAD_EXPIRY_SECONDS = 0
    idle = upload_started("kept")
    backdate(idle, 365 * DAY)
    assert services.video_expire_idle() == []
    idle.refresh_from_db()
    assert idle.status == "uploading" and len(stored(idle.public_id)) == 2


def test_it_answers_410_to_chunks_and_finalize_of_an_expired_upload(store: str) -> None:
    idle = upload_started("late")
    backdate(idle, DAY + 1)
    assert services.video_expire_idle() == [idle.pk]
    client = Client()
    chunk = client.patch(
        f"/api/record/videos/update_video_chunck?video_id={idle.pk}&chunk_index=2",
        data=b"late bytes",
        content_type="application/octet-stream",
    )
    assert chunk.status_code == 410, chunk.content
    assert "expired" in chunk.json()["message"] and chunk.json()["detail"]["status"] == "expired"
    final = client.post("/api/record/videos/finalize_video_upload", data={"video_id": idle.pk})
    assert final.status_code == 410, final.content
    assert "start a new upload" in final.json()["message"]
    # Nothing was stored by the refused chunk.
    assert stored(idle.public_id) == [] and not Chunk.objects.filter(video=idle).exists()
    with pytest.raises(Gone):
        services.video_finalize(video=Video.objects.get(pk=idle.pk))
