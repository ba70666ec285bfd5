"""Quotas (open videos, stored bytes) and the request rate limit: 429 JSON with Retry-After, and
nothing stored for the refused request. The token bucket itself is tested with an injected clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from recordplus.accounts.services import user_create_with_token
from recordplus.core.rate_limit import RateLimiter
from recordplus.core.storage import get_store
from recordplus.videos.models import Chunk, Video


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # noqa: ANN001
    settings.MEDIA_ROOT = str(tmp_path / "media")
    get_store.cache_clear()
    yield tmp_path / "media"
    get_store.cache_clear()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def create(client: Client, title: str, **headers: str):  # noqa: ANN201
    return client.post("/api/record/videos", data={"title": title}, **headers)


def chunk(client: Client, video_id: int, index: int, data: bytes, **headers: str):  # noqa: ANN201
    return client.patch(
        f"/api/record/videos/update_video_chunck?video_id={video_id}&chunk_index={index}",
        data=data,
        content_type="application/octet-stream",
        **headers,
    )


@pytest.mark.django_db
def test_it_caps_open_videos_per_user(settings) -> None:  # noqa: ANN001
    settings.QUOTA_OPEN_VIDEOS = 2
    _, alice = user_create_with_token(username="alice-quota")
    _, bob = user_create_with_token(username="bob-quota")
    client = Client()
    assert create(client, "one", **bearer(alice)).status_code == 201
    assert create(client, "two", **bearer(alice)).status_code == 201
    refused = create(client, "three", **bearer(alice))
    assert refused.status_code == 429, refused.content
    assert int(refused["Retry-After"]) > 0
    body = refused.json()
    assert "QUOTA_OPEN_VIDEOS=2" in body["message"] and body["detail"]["used"] == 2
    assert Video.objects.filter(owner__username="alice-quota").count() == 2  # nothing created
    assert create(client, "bob's", **bearer(bob)).status_code == 201  # another user's quota is their own
    # A finished video no longer counts as open.
    Video.objects.filter(owner__username="alice-quota", title="one").update(status=Video.Status.READY)
    assert create(client, "three again", **bearer(alice)).status_code == 201


@pytest.mark.django_db
def test_it_caps_stored_bytes_and_keeps_nothing_of_the_refused_chunk(settings, media_root: Path) -> None:  # noqa: ANN001
    settings.QUOTA_BYTES = 10_000
    _, alice = user_create_with_token(username="alice-bytes")
    client = Client()
    video_id = create(client, "big", **bearer(alice)).json()["video_id"]
    assert chunk(client, video_id, 0, b"a" * 6000, **bearer(alice)).status_code == 200
    refused = chunk(client, video_id, 1, b"b" * 6000, **bearer(alice))
    assert refused.status_code == 429, refused.content
    assert refused["Retry-After"].isdigit()
    assert refused.json()["detail"] == {"quota": "bytes", "limit": 10_000, "used": 6000, "sent": 6000}
    assert list(Chunk.objects.filter(video_id=video_id).values_list("index", flat=True)) == [0]
    assert len(stored_files(media_root)) == 1  # the refused chunk's bytes were removed
    assert chunk(client, video_id, 1, b"b" * 4000, **bearer(alice)).status_code == 200  # exactly at the quota


@pytest.mark.django_db
def test_it_turns_quotas_off_with_zero(settings) -> None:  # noqa: ANN001
    settings.QUOTA_OPEN_VIDEOS = 0
    client = Client()
    for number in range(5):
        assert create(client, f"v{number}").status_code == 201


@pytest.mark.django_db
def test_it_rate_limits_each_caller_with_retry_after(settings) -> None:  # noqa: ANN001
    settings.RATE_LIMIT_REQUESTS_PER_MINUTE = 3
    _, alice = user_create_with_token(username="alice-rate")
    client = Client()  # a new client builds the middleware with the setting above
    answers = [client.get("/api/record/videos", **bearer(alice)).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    refused = client.get("/api/record/videos", **bearer(alice))
    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/json")
    assert 1 <= int(refused["Retry-After"]) <= 20  # one request refills in 60/3 s
    assert "RATE_LIMIT_REQUESTS_PER_MINUTE" in refused.json()["message"]
    # Another caller (anonymous, by address) has a bucket of its own; health checks are not counted.
    assert client.get("/api/record/videos").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert get_user_model().objects.filter(username="alice-rate").exists()


def test_the_bucket_refills_at_the_rate() -> None:
    now = [1000.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(limiter.take("k") == 0.0 for _ in range(60))
    wait = limiter.take("k")
    assert wait == pytest.approx(1.0)
    now[0] += 0.5
    assert limiter.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("k") == 0.0
    assert limiter.take("other") == 0.0  # keys are independent
    now[0] += 3600
    assert all(limiter.take("k") == 0.0 for _ in range(60))  # refilled to the burst, not beyond
    assert limiter.take("k") > 0
