"""RFC 9110 byte-range responses for stored objects (video, thumbnail)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.http import http_date, parse_http_date_safe

from recordplus.core.storage import get_store
from recordplus.core.errors import RangeNotSatisfiable, error_body


_NUMBER = re.compile(r"[0-9]{0,19}")  # ASCII digits only; longer than any real size is junk


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    content_type: str
    modified: datetime
    filename: str

    @property
    def etag(self) -> str:
        digest = hashlib.sha256(f"{self.key}:{self.size}:{self.modified.timestamp()}".encode()).hexdigest()[:32]
        return f'"{digest}"'


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range one `Range: bytes=…` header selects, or None to send everything.

    Unparseable headers and multi-range requests are ignored (RFC 9110 allows a server to
    answer those with 200); a syntactically valid range that selects nothing raises
    RangeNotSatisfiable.
    """
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(" \t"), last.strip(" \t")
    if not _NUMBER.fullmatch(first) or not _NUMBER.fullmatch(last) or (first == last == ""):
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(f"range {header!r} selects no bytes of a {size}-byte object", size)
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignore
    if start >= size:
        raise RangeNotSatisfiable(f"range {header!r} starts beyond the end of a {size}-byte object", size)
    return start, min(end, size - 1)


async def _async_pieces(pieces: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Feed a blocking storage iterator to the ASGI server piece by piece (Django would
    otherwise read a synchronous iterator whole into memory before sending it)."""
    done = object()
    while True:
        piece = await sync_to_async(next, thread_sensitive=False)(pieces, done)
        if piece is done:
            return
        yield piece


def _if_range_allows(headers: Mapping[str, str], obj: StoredObject) -> bool:
    condition = headers.get("If-Range")
    if not condition:
        return True
    condition = condition.strip()
    if condition.startswith(('"', "W/")):
        return condition == obj.etag  # strong comparison; weak tags never match
    since = parse_http_date_safe(condition)
    return since is not None and since == int(obj.modified.timestamp())


@dataclass(frozen=True)
class Answer:
    """What a GET/HEAD of a stored object answers, before any framework renders it: the status,
    the headers (Content-Type included, except on a 304), and either a small `body` (304, 416,
    HEAD: none) or the inclusive byte range `start`..`end` of the object to send."""

    status: int
    headers: dict[str, str]
    body: bytes = b""
    start: int = 0
    end: int = -1  # below start: no bytes from the object

    @property
    def sends_object(self) -> bool:
        return self.end >= self.start


def answer_for(method: str, headers: Mapping[str, str], obj: StoredObject) -> Answer:
    """The answer to GET/HEAD for `obj` with 200, 206, 304 or 416 and the validators, from the
    request's method and headers alone (shared by the Django view and the lean ASGI route)."""
    base = {
        "Accept-Ranges": "bytes",
        "ETag": obj.etag,
        "Last-Modified": http_date(obj.modified.timestamp()),
        "Content-Disposition": f'inline; filename="{obj.filename}"',
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if_none_match = headers.get("If-None-Match")
    if if_none_match:
        # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; * matches any current object.
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        if "*" in tags or obj.etag in tags:
            return Answer(304, base)

    selected = None
    if _if_range_allows(headers, obj):
        try:
            selected = parse_range(headers.get("Range"), obj.size)
        except RangeNotSatisfiable as exc:
            body = json.dumps(error_body(exc.message, {"size": obj.size})).encode()
            return Answer(416, {**base, "Content-Range": f"bytes */{obj.size}", "Content-Type": "application/json",
                                "Content-Length": str(len(body))}, body=body)
    start, end = selected if selected else (0, obj.size - 1)
    length = max(end - start + 1, 0)
    base["Content-Type"] = obj.content_type
    base["Content-Length"] = str(length)
    if selected:
        base["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
    status = 206 if selected else 200
    if method == "HEAD":
        return Answer(status, base)
    return Answer(status, base, start=start, end=end)


def serve(request: HttpRequest, obj: StoredObject) -> HttpResponseBase:
    """Answer GET/HEAD for `obj` with 200, 206, 304 or 416 and the validators."""
    answer = answer_for(request.method or "GET", request.headers, obj)
    headers = dict(answer.headers)
    content_type = headers.pop("Content-Type", None)
    if answer.sends_object:
        return StreamingHttpResponse(
            _async_pieces(get_store().read_range(obj.key, answer.start, answer.end)),
            status=answer.status, content_type=content_type, headers=headers,
        )
    response = HttpResponse(answer.body, status=answer.status, content_type=content_type, headers=headers)
    if content_type is None:
        del response["Content-Type"]
    if "Content-Length" in answer.headers:
        response["Content-Length"] = answer.headers["Content-Length"]
    return response
