"""GET videos is bounded: a page of `limit` videos (50 by default, at most 200), newest first,
with the next page in `X-Next-Cursor` and `Link: rel="next"`; the work of one call does not grow
with the number of videos. `description` is at most 5000 characters; beyond, 400 and nothing stored.

In-process (Django's test client on the test database): what is checked is the rows read and the
queries run, not time.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recordplus.videos.models import Video
from recordplus.videos.requests import DESCRIPTION_MAX_CHARS, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anonymous_allowed(settings: Any) -> None:
    settings.ALLOW_ANONYMOUS = True


def make_videos(count: int, *, same_second_every: int = 0) -> list[int]:
    """`count` anonymous videos, the newest last; with `same_second_every`, groups of that many
    share one created_at (ties the cursor must break by id)."""
    base = timezone.now() - timedelta(days=1)
    Video.objects.bulk_create([Video(title=f"v{n}", description=f"d{n}") for n in range(count)], batch_size=500)
    ids = list(Video.objects.order_by("id").values_list("id", flat=True))[-count:]
    for position, video_id in enumerate(ids):
        step = position // same_second_every if same_second_every else position
        Video.objects.filter(pk=video_id).update(created_at=base + timedelta(seconds=step))
    return ids


def list_page(client: Client, **query: Any) -> Any:
    return client.get("/api/record/videos", query)


def test_it_gives_the_default_page_with_a_next_link() -> None:
    ids = make_videos(120)
    response = list_page(Client())
    assert response.status_code == 200
    listed = response.json()
    assert isinstance(listed, list)  # still the seed's plain list
    assert [v["id"] for v in listed] == list(reversed(ids))[:LIST_LIMIT_DEFAULT]
    cursor = response.headers["X-Next-Cursor"]
    assert response.headers["Link"] == f'<http://testserver/api/record/videos?limit=50&cursor={cursor}>; rel="next"'


def test_it_walks_every_page_once_in_order_even_with_ties() -> None:
    ids = make_videos(230, same_second_every=7)
    client, seen, cursor, pages = Client(), [], None, 0
    while True:
        response = list_page(client, limit=40, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.content
        page = [v["id"] for v in response.json()]
        assert len(page) <= 40
        seen += page
        pages += 1
        cursor = response.headers.get("X-Next-Cursor")
        if cursor is None:
            assert "Link" not in response.headers
            break
    assert pages == 6  # 5 full pages and 30
    assert seen == list(reversed(ids))  # newest first, ties by id, none twice, none missed


def test_it_does_not_repeat_or_skip_when_videos_are_added_between_pages() -> None:
    make_videos(30)
    client = Client()
    first = list_page(client, limit=10)
    newer = make_videos(5)  # created after the first page was read
    second = list_page(client, limit=10, cursor=first.headers["X-Next-Cursor"])
    first_ids, second_ids = [v["id"] for v in first.json()], [v["id"] for v in second.json()]
    assert not set(first_ids) & set(second_ids) and not set(newer) & set(second_ids)
    assert min(first_ids) > max(second_ids)


def test_it_reads_at_most_a_page_whatever_the_number_of_videos() -> None:
    make_videos(10)
    client = Client()
    with CaptureQueriesContext(connection) as few:
        assert len(list_page(client).json()) == 10
    make_videos(990)
    with CaptureQueriesContext(connection) as many:
        listed = list_page(client).json()
    with CaptureQueriesContext(connection) as widest:
        widest_page = list_page(client, limit=LIST_LIMIT_MAX).json()
    assert len(listed) == LIST_LIMIT_DEFAULT and len(widest_page) == LIST_LIMIT_MAX
    assert len(many) == len(few) == len(widest)  # the same queries for 10 or 1000 videos
    listing = [q["sql"] for q in many.captured_queries if 'FROM "videos_video"' in q["sql"]]
    assert len(listing) == 1, listing
    assert f"LIMIT {LIST_LIMIT_DEFAULT + 1}" in listing[0]  # one row more than the page, no more


@pytest.mark.parametrize("limit", ["0", "-1", "201", "abc", "1.5", "99999999999999999999", "٣"])
def test_it_refuses_a_bad_limit(limit: str) -> None:
    response = list_page(Client(), limit=limit)
    assert response.status_code == 400
    body = response.json()
    assert body["message"].startswith("limit must be a whole number from 1 to 200")
    assert body["detail"]["field"] == "limit"


@pytest.mark.parametrize("cursor", ["nonsense", "12", "1.2.3", "-1.5", "x" * 300])
def test_it_refuses_a_bad_cursor(cursor: str) -> None:
    make_videos(3)
    response = list_page(Client(), cursor=cursor)
    assert response.status_code == 400
    assert "cursor" in response.json()["message"] and response.json()["detail"] == {"field": "cursor"}


def test_it_pages_the_legacy_spelling_too() -> None:
    make_videos(60)
    response = Client().get("/api/v1/record/videos/", {"limit": "5"})
    assert response.status_code == 200 and len(response.json()) == 5
    assert response.headers["Link"].startswith("<http://testserver/api/v1/record/videos/?limit=5&cursor=")


# --- description --------------------------------------------------------------------------


def test_it_accepts_a_description_at_the_limit() -> None:
    text = "é" * DESCRIPTION_MAX_CHARS  # characters, not bytes
    response = Client().post("/api/record/videos", {"title": "long", "description": text})
    assert response.status_code == 201, response.content
    assert Video.objects.get(pk=response.json()["video_id"]).description == text


@pytest.mark.parametrize("how", ["multipart", "json", "query"])
def test_it_refuses_a_longer_description_and_stores_nothing(how: str) -> None:
    text = "x" * (DESCRIPTION_MAX_CHARS + 1)
    client = Client()
    if how == "multipart":
        response = client.post("/api/record/videos", {"title": "t", "description": text})
    elif how == "json":
        response = client.post(
            "/api/record/videos", json.dumps({"title": "t", "description": text}), content_type="application/json"
        )
    else:  # a raw first chunk, the fields in the query string
        response = client.post(
            f"/api/record/videos?title=t&description={text}", b"\x1aE\xdf\xa3", content_type="application/octet-stream"
        )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["message"] == "description is 5001 characters; at most 5000 are allowed"
    assert body["detail"] == {"field": "description", "max_length": 5000}
    assert not Video.objects.exists()


# --- a live stack on PostgreSQL ----------------------------------------------------------


def test_it_pages_on_postgresql_through_the_link_header(cluster_stack: Any) -> None:
    """The keyset cursor on PostgreSQL's timestamps (microseconds), followed as a client would:
    the Link header's URL as given. HEAD answers the same headers."""
    token = cluster_stack.create_user(f"pages-{timezone.now().timestamp()}")
    with cluster_stack.client(token) as client:
        made = [client.post("/api/record/videos", data={"title": f"p{n}"}).json()["video_id"] for n in range(5)]
        seen, url = [], f"{cluster_stack.url}/api/record/videos/?limit=2"
        while url:
            response, head = client.get(url), client.head(url)
            assert response.status_code == 200, response.text
            assert head.headers.get("x-next-cursor") == response.headers.get("x-next-cursor")
            seen += [video["id"] for video in response.json()]
            link = response.headers.get("link")
            url = link[1 : link.index(">")] if link else ""
    assert seen == list(reversed(made))
