"""RFC 9110 byte-range responses for stored objects (video, thumbnail)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
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


def _if_range_allows(request: HttpRequest, obj: StoredObject) -> bool:
    condition = request.headers.get("If-Range")
    if not condition:
        return True
    condition = condition.strip()
    if condition.startswith(('"', "W/")):
        return condition == obj.etag  # strong comparison; weak tags never match
    since = parse_http_date_safe(condition)
    return since is not None and since == int(obj.modified.timestamp())


def serve(request: HttpRequest, obj: StoredObject) -> HttpResponseBase:
    """Answer GET/HEAD for `obj` with 200, 206, 304 or 416 and the validators."""
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": obj.etag,
        "Last-Modified": http_date(obj.modified.timestamp()),
        "Content-Disposition": f'inline; filename="{obj.filename}"',
        "Cache-Control": "private, max-age=0, must-revalidate",
    }
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match:
        # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x"; * matches any current object.
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        if "*" in tags or obj.etag in tags:
            response = HttpResponse(status=304, headers=headers)
            del response["Content-Type"]
            return response

    selected = None
    if _if_range_allows(request, obj):
        try:
            selected = parse_range(request.headers.get("Range"), obj.size)
        except RangeNotSatisfiable as exc:
            response = HttpResponse(
                json.dumps(error_body(exc.message, {"size": obj.size})),
                status=416,
                content_type="application/json",
                headers={**headers, "Content-Range": f"bytes */{obj.size}"},
            )
            return response
    start, end = selected if selected else (0, obj.size - 1)
    length = max(end - start + 1, 0)
    status = 206 if selected else 200
    headers["Content-Length"] = str(length)
    if selected:
        headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=obj.content_type, headers=headers)
        response["Content-Length"] = str(length)
        return response
    return StreamingHttpResponse(
        _async_pieces(get_store().read_range(obj.key, start, end)), status=status, content_type=obj.content_type, headers=headers
    )
