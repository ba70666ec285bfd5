"""RFC 9110 Range rules, in-process: `parse_range` on its own, and `streaming.serve()` answering
200/206/304/416 for an object in a real FileStore (Django's RequestFactory, the async body
consumed as the ASGI server would). The live stacks keep only the end-to-end guarantees
(tests/api/test_range.py)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.http import HttpResponseBase
from django.test import RequestFactory
from django.utils.http import http_date

from recordplus.core.errors import RangeNotSatisfiable
from recordplus.core.storage.base import COPY_BUFFER
from recordplus.core.storage.filesystem import FileStore
from recordplus.videos import streaming
from recordplus.videos.streaming import StoredObject, parse_range

KEY = "videos/abc123/video.webm"
# Three storage pieces and a bit: the whole body must arrive in bounded pieces, in order.
SIZE = 2 * COPY_BUFFER + 654_321
MODIFIED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
rf = RequestFactory()


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[FileStore, bytes]:
    """One stored video for the module (tests only read it)."""
    store = FileStore(tmp_path_factory.mktemp("range-store"))
    data = os.urandom(SIZE)
    store.write(KEY, _Reader(data))
    return store, data


@pytest.fixture
def full(stored: tuple[FileStore, bytes], monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The stored video's bytes, in the FileStore that `serve()` reads from."""
    store, data = stored
    monkeypatch.setattr(streaming, "get_store", lambda: store)
    assert store.size(KEY) == len(data)
    return data


@pytest.fixture
def obj(full: bytes) -> StoredObject:
    return StoredObject(key=KEY, size=len(full), content_type="video/webm", modified=MODIFIED, filename="abc123.webm")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.offset + n
        piece, self.offset = self.data[self.offset : end], min(end, len(self.data))
        return piece


def pieces(response: HttpResponseBase) -> list[bytes]:
    """The body as the ASGI server receives it: an async stream of pieces."""
    if not response.streaming:
        return [response.content] if response.content else []

    async def collect() -> list[bytes]:
        return [piece async for piece in response.streaming_content]

    return asyncio.run(collect())


def body(response: HttpResponseBase) -> bytes:
    return b"".join(pieces(response))


def get(obj: StoredObject, *, method: str = "GET", **headers: str) -> HttpResponseBase:
    meta = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    request = rf.head("/stream") if method == "HEAD" else rf.get("/stream")
    request.META.update(meta)
    return streaming.serve(request, obj)


# --- parse_range on its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=1000-1999", (1000, 1999)),
        ("bytes=-500", (9500, 9999)),
        ("bytes=2000-", (2000, 9999)),
        ("bytes=100-999999999", (100, 9999)),
        ("bytes=9999-9999", (9999, 9999)),
        ("bytes=0-0", (0, 0)),
        ("bytes=-20000", (0, 9999)),  # a suffix longer than the object is the whole object
        ("BYTES=5-6", (5, 6)),  # the unit is case-insensitive
    ],
    ids=["first-bytes", "middle", "suffix", "open-ended", "past-the-end", "last-byte", "first-byte", "long-suffix", "unit-case"],
)
def test_it_parses_a_satisfiable_range(header: str, expected: tuple[int, int]) -> None:
    assert parse_range(header, 10_000) == expected


@pytest.mark.parametrize(
    "header",
    [
        None, "", "bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,5-9", "bytes=-", "bytes=", "bytes=7", "0-9",
        "bytes=-" + "9" * 5000, "bytes=" + "9" * 5000 + "-", "bytes=" + "1" * 20 + "-",
        "bytes=\u00b2-", "bytes=\u0661-", "bytes=-\u0665", "bytes=0-\uff19",
        # What the ASGI server hands Django for those: the UTF-8 bytes decoded as latin-1.
        "bytes=\u00c2\u00b2-", "bytes=\u00d9\u00a1-",
        "bytes=+5-9", "bytes=0x10-", "bytes=1_000-",
    ],
    ids=[
        "absent", "empty", "letters", "backwards", "other-unit", "multi-range", "no-numbers", "no-spec", "no-dash",
        "no-unit", "huge-suffix", "huge-start", "20-digits", "superscript-digit", "arabic-digit", "arabic-suffix",
        "fullwidth-digit", "superscript-as-latin1", "arabic-as-latin1", "plus-sign", "hex", "underscore",
    ],
)  # fmt: skip
def test_it_ignores_a_malformed_range(header: str | None) -> None:
    assert parse_range(header, 10_000) is None


@pytest.mark.parametrize(
    ("header", "size", "words"),
    [
        ("bytes=10000-", 10_000, "starts beyond the end"),
        ("bytes=10010-10020", 10_000, "starts beyond the end"),
        ("bytes=-0", 10_000, "selects no bytes"),
        ("bytes=0-", 0, "starts beyond the end"),
        ("bytes=-5", 0, "selects no bytes"),
    ],
    ids=["at-the-end", "past-the-end", "empty-suffix", "empty-object", "suffix-of-empty-object"],
)
def test_it_refuses_an_unsatisfiable_range(header: str, size: int, words: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)
    assert words in caught.value.message
    assert caught.value.status == 416
    assert caught.value.size == size
    assert caught.value.detail == {"size": size}


# --- serve(): whole object ------------------------------------------------------------------


def test_it_serves_the_whole_video(obj: StoredObject, full: bytes) -> None:
    response = get(obj)
    assert response.status_code == 200
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == obj.etag and response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert response["Last-Modified"] == http_date(MODIFIED.timestamp()) == "Tue, 04 Mar 2025 05:06:07 GMT"
    assert response["Content-Type"].startswith("video/webm")
    assert response["Content-Disposition"] == 'inline; filename="abc123.webm"'
    assert response["Cache-Control"] == "private, max-age=0, must-revalidate"
    assert "Content-Range" not in response
    got = pieces(response)
    assert b"".join(got) == full
    assert int(response["Content-Length"]) == len(full)
    # Streamed in bounded pieces, never the whole object in memory at once.
    assert len(got) >= 3 and max(len(p) for p in got) <= COPY_BUFFER


def test_it_serves_an_empty_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path)
    store.write("videos/e/video.webm", _Reader(b""))
    monkeypatch.setattr(streaming, "get_store", lambda: store)
    empty = StoredObject("videos/e/video.webm", 0, "video/webm", MODIFIED, "e.webm")
    response = get(empty)
    assert response.status_code == 200
    assert response["Content-Length"] == "0"
    assert body(response) == b""


def test_it_changes_the_etag_with_the_object() -> None:
    one = StoredObject(KEY, 100, "video/webm", MODIFIED, "a.webm")
    assert one.etag == StoredObject(KEY, 100, "video/mp4", MODIFIED, "b.mp4").etag
    assert one.etag != StoredObject(KEY, 101, "video/webm", MODIFIED, "a.webm").etag
    assert one.etag != StoredObject(KEY, 100, "video/webm", MODIFIED + timedelta(seconds=1), "a.webm").etag
    assert one.etag != StoredObject("videos/other/video.webm", 100, "video/webm", MODIFIED, "a.webm").etag


# --- serve(): 206 ---------------------------------------------------------------------------

RANGES: list[tuple[str, Callable[[int], tuple[int, int]]]] = [
    ("bytes=0-99", lambda n: (0, 99)),
    ("bytes=1000-1999", lambda n: (1000, 1999)),
    ("bytes=-500", lambda n: (n - 500, n - 1)),
    ("bytes=2000-", lambda n: (2000, n - 1)),
    ("bytes=100-999999999", lambda n: (100, n - 1)),
    # Across the storage pieces' boundaries.
    (f"bytes={COPY_BUFFER - 10}-{2 * COPY_BUFFER + 10}", lambda n: (COPY_BUFFER - 10, 2 * COPY_BUFFER + 10)),
    ("bytes=0-0", lambda n: (0, 0)),
    ("bytes=-1", lambda n: (n - 1, n - 1)),
]


@pytest.mark.parametrize(
    ("header", "slice_of"),
    RANGES,
    ids=["first-bytes", "middle", "suffix", "open-ended", "past-the-end", "across-pieces", "first-byte", "last-byte"],
)
def test_it_serves_ranges(obj: StoredObject, full: bytes, header: str, slice_of: Callable[[int], tuple[int, int]]) -> None:
    start, end = slice_of(len(full))
    response = get(obj, Range=header)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(full)}"
    assert int(response["Content-Length"]) == end - start + 1
    assert response["Accept-Ranges"] == "bytes"
    assert response["ETag"] == obj.etag
    assert response["Content-Type"].startswith("video/webm")
    assert body(response) == full[start : end + 1]


# --- serve(): 416 ---------------------------------------------------------------------------


@pytest.mark.parametrize("offsets", [(0, None), (10, 20)], ids=["at-the-end", "past-the-end"])
def test_it_answers_416_with_a_json_body(obj: StoredObject, full: bytes, offsets: tuple[int, int | None]) -> None:
    first, last = offsets
    header = f"bytes={len(full) + first}-" + ("" if last is None else str(len(full) + last))
    response = get(obj, Range=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(full)}"
    assert response["Content-Type"] == "application/json"
    assert response["Accept-Ranges"] == "bytes"
    answer = json.loads(body(response))
    assert set(answer) == {"message", "detail"}
    assert "beyond the end" in answer["message"]
    assert answer["detail"] == {"size": len(full)}


def test_it_answers_416_for_an_empty_suffix(obj: StoredObject, full: bytes) -> None:
    response = get(obj, Range="bytes=-0")
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(full)}"
    assert json.loads(body(response))["detail"] == {"size": len(full)}


# --- serve(): ignored ranges ----------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,5-9", "bytes=-" + "9" * 5000, "bytes=\u00b2-",
        "bytes=\u0661-", "bytes=\u00c2\u00b2-", "bytes=\u00d9\u00a1-",
    ],
    ids=[
        "letters", "backwards", "other-unit", "multi-range", "huge", "superscript-digit", "arabic-digit",
        "superscript-as-latin1", "arabic-as-latin1",
    ],
)  # fmt: skip
def test_it_ignores_a_malformed_range_and_sends_everything(obj: StoredObject, full: bytes, header: str) -> None:
    response = get(obj, Range=header)
    assert response.status_code == 200
    assert "Content-Range" not in response
    assert int(response["Content-Length"]) == len(full)
    assert body(response) == full


# --- serve(): If-Range ----------------------------------------------------------------------


def test_it_honours_if_range(obj: StoredObject, full: bytes) -> None:
    etag = get(obj)["ETag"]
    matching = get(obj, Range="bytes=0-9", If_Range=etag)
    assert matching.status_code == 206
    assert matching["Content-Range"] == f"bytes 0-9/{len(full)}"
    assert body(matching) == full[:10]
    stale = get(obj, Range="bytes=0-9", If_Range='"some-old-version"')
    assert stale.status_code == 200
    assert "Content-Range" not in stale
    assert body(stale) == full


@pytest.mark.parametrize(
    ("condition", "status"),
    [
        ("etag", 206),
        ("W/etag", 200),  # weak tags never match an If-Range (strong comparison)
        ("last-modified", 206),
        ("earlier", 200),
        ("later", 200),
        ("not a date", 200),
    ],
)
def test_it_compares_if_range_strongly(obj: StoredObject, full: bytes, condition: str, status: int) -> None:
    value = {
        "etag": obj.etag,
        "W/etag": f"W/{obj.etag}",
        "last-modified": http_date(MODIFIED.timestamp()),
        "earlier": http_date(MODIFIED.timestamp() - 60),
        "later": http_date(MODIFIED.timestamp() + 60),
        "not a date": "yesterday",
    }[condition]
    response = get(obj, Range="bytes=5-14", If_Range=value)
    assert response.status_code == status
    assert body(response) == (full[5:15] if status == 206 else full)


def test_it_ignores_if_range_without_a_range(obj: StoredObject, full: bytes) -> None:
    response = get(obj, If_Range='"some-old-version"')
    assert response.status_code == 200
    assert body(response) == full


def test_it_sends_everything_for_a_stale_if_range_even_when_unsatisfiable(obj: StoredObject, full: bytes) -> None:
    # RFC 9110 13.1.5: a failed If-Range means the Range header is ignored, so no 416 either.
    response = get(obj, Range=f"bytes={len(full)}-", If_Range='"some-old-version"')
    assert response.status_code == 200
    assert body(response) == full


# --- serve(): If-None-Match -----------------------------------------------------------------


@pytest.mark.parametrize("form", ["exact", "weak", "in-a-list", "star", "list-with-spaces"])
def test_it_answers_304_for_a_matching_if_none_match(obj: StoredObject, form: str) -> None:
    etag = get(obj)["ETag"]
    header = {
        "exact": etag,
        "weak": f"W/{etag}",
        "in-a-list": '"other", ' + etag,
        "star": "*",
        "list-with-spaces": f'"a" ,  W/{etag} , "b"',
    }[form]
    response = get(obj, If_None_Match=header)
    assert response.status_code == 304, header
    assert response["ETag"] == etag
    assert response["Last-Modified"] == http_date(MODIFIED.timestamp())
    assert "Content-Type" not in response
    assert body(response) == b""


def test_it_answers_304_before_looking_at_the_range(obj: StoredObject) -> None:
    response = get(obj, If_None_Match=obj.etag, Range=f"bytes={obj.size}-")
    assert response.status_code == 304


@pytest.mark.parametrize("header", ['"other"', 'W/"other"', '"other", "another"'])
def test_it_serves_the_video_when_if_none_match_differs(obj: StoredObject, full: bytes, header: str) -> None:
    response = get(obj, If_None_Match=header)
    assert response.status_code == 200
    assert body(response) == full


# --- serve(): HEAD --------------------------------------------------------------------------


def test_it_answers_head_without_a_body(obj: StoredObject, full: bytes) -> None:
    response = get(obj, method="HEAD", Range="bytes=0-9")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 0-9/{len(full)}"
    assert response["Content-Length"] == "10"
    assert response["ETag"] == obj.etag
    assert body(response) == b""


def test_it_answers_head_for_the_whole_video(obj: StoredObject, full: bytes) -> None:
    response = get(obj, method="HEAD")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(full))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Type"].startswith("video/webm")
    assert "Content-Range" not in response
    assert body(response) == b""


def test_it_answers_head_without_reading_the_object(obj: StoredObject, monkeypatch: pytest.MonkeyPatch) -> None:
    class Unreadable:
        def read_range(self, key: str, start: int, end: int):  # noqa: ANN201
            raise AssertionError("HEAD read the object")

    monkeypatch.setattr(streaming, "get_store", lambda: Unreadable())
    assert get(obj, method="HEAD", Range="bytes=0-9").status_code == 206
