"""A lean ASGI route for the two hot paths, ahead of Django: raw-body chunk uploads and video
streaming.

Why: through Django a 16 KiB chunk cost ~11 ms of server CPU and one request at a time — the
middleware stack (ten layers, with a sync → async → sync hop around django-cors-headers), Ninja's
operation machinery, a new database connection per request, and every sync part of every
request queued on Django's one thread-sensitive executor thread. This route answers the same
requests with the same code underneath — `accounts.auth.authenticate`, `videos.selectors`,
`videos.services.chunk_store`, `videos.media_links`, `videos.streaming.answer_for`, the process's
rate limiter, the same metrics — and only the plumbing replaced: the request is read once from
the ASGI scope, the sync part runs on a small pool of threads that keep their database
connection, and file bytes go out in large pieces.

It takes only requests whose every rule it applies itself, and hands anything else to Django
unchanged (`_eligible`): a method and path of the two routes under any accepted spelling
(`/api/v1/record/`, trailing slashes), a raw body (application/octet-stream, video/*) for
chunks, a Host in ALLOWED_HOSTS, no Origin header and no cross-site fetch (CORS and the
cross-origin guard are Django's), no session cookie without a bearer token (the web app's
CSRF-checked sessions are Django's), no upload URL (`/u/…`). HOT_PATHS=false turns it off.

Guarantees kept: a chunk is answered 200 only after `chunk_store` returned (bytes fsynced,
row committed); ownership is checked on every request (`video_get_for_user` /
`media_links.video_for`); rate limits, quotas and size limits apply (BodyLimit and BodyTimeout
still wrap this route); requests are counted under the same route labels.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.db import connections
from django.http import QueryDict
from django.http.request import HttpHeaders, split_domain_port, validate_host
from ninja.errors import HttpError

from recordplus.core import metrics
from recordplus.core.errors import RecordPlusError, TooManyRequests, error_body

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CHUNK = re.compile(
    r"^/api(?:/v1)?/record/videos/(?:(?P<id>[0-9]{1,18})/)?(?P<name>update_video_chunck|update_video_file)/*$"
)
_STREAM = re.compile(r"^/api(?:/v1)?/record/videos/(?P<id>[0-9]{1,18})/stream_video/*$")
_CHUNK_METHODS = frozenset({"PATCH", "PUT", "POST"})
_STREAM_METHODS = frozenset({"GET", "HEAD"})
_RAW_TYPES = frozenset({"application/octet-stream", "video/webm", "video/mp4", "video/x-msvideo", "video/avi"})
# File bytes go out in pieces this large: fewer thread hops and ASGI sends than 64 KiB ones.
READ_BLOCK = 4 * 1024 * 1024


@dataclass
class LeanRequest:
    """What the shared code reads of a request (`headers`, `META`, `GET`, `method`, `scope`),
    built from the ASGI scope as Django's ASGIRequest would build it."""

    scope: Scope
    method: str
    META: dict[str, str]
    headers: HttpHeaders
    GET: QueryDict
    media_grant: Any = None
    auth: Any = None

    @classmethod
    def from_scope(cls, scope: Scope) -> LeanRequest:
        meta: dict[str, str] = {"REQUEST_METHOD": scope["method"], "QUERY_STRING": scope.get("query_string", b"").decode("latin-1")}
        client = scope.get("client")
        meta["REMOTE_ADDR"] = client[0] if client else ""
        for raw_name, raw_value in scope.get("headers") or []:
            name = raw_name.decode("latin-1").upper().replace("-", "_")
            value = raw_value.decode("latin-1")
            key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"
            meta[key] = f"{meta[key]},{value}" if key in meta else value  # as Django joins repeats
        return cls(scope, scope["method"], meta, HttpHeaders(meta), QueryDict(meta["QUERY_STRING"]))


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    # For a stored object: which store key and bytes to send after the headers.
    object_key: str | None = None
    start: int = 0
    end: int = -1


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
    body = json.dumps(payload).encode()
    return Reply(status, {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(body)),
                          **(headers or {})}, body)


def _error_reply(exc: BaseException) -> Reply:
    """The answer Django's stack gives for `exc` (config.api's handlers, core.middleware.api_errors)."""
    from recordplus.core.middleware import DATABASE_RETRY_AFTER_SECONDS, _database_unavailable

    if isinstance(exc, RecordPlusError):
        extra = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else {}
        return _json(exc.status, error_body(exc.message, exc.detail), extra)
    if isinstance(exc, HttpError):
        return _json(exc.status_code, error_body(str(exc)))
    if _database_unavailable(exc):
        logger.warning("database unavailable on a hot path: %s", exc)
        return _json(503, error_body("the database is unavailable; nothing was changed, try again shortly"),
                     {"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)})
    logger.error("unhandled error on a hot path", exc_info=exc)
    return _json(500, error_body("internal error; the request was not completed"))


def _tidy_connections() -> None:
    """After a request on a pool thread: keep a healthy connection for the next one (no new
    connection per request), drop one that failed or was left in a transaction."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.in_atomic_block or not conn.get_autocommit():
            conn.close()
        elif conn.errors_occurred:
            if conn.is_usable():
                conn.errors_occurred = False
            else:
                conn.close()


def _rate_limited(request: LeanRequest) -> Reply | None:
    from recordplus.core import rate_limit

    limiter = rate_limit.current_limiter()
    if limiter is None:
        return None
    wait = limiter.take(rate_limit.caller_key(request))  # type: ignore[arg-type]
    if wait <= 0:
        return None
    metrics.UPLOAD_REJECTED.labels("rate_limited").inc()
    return _error_reply(rate_limit.too_many(wait))


def _owned_video(auth: Any, video_id: int) -> Any:
    """selectors.video_get_for_user (the same ownership filter, the same 404) without its join
    to the transcript: neither hot path reads it, and a transcript row is large."""
    from recordplus.core.errors import NotFound
    from recordplus.videos import selectors

    video = selectors.video_list_for_user(auth).select_related(None).filter(pk=video_id).first() if video_id > 0 else None
    if video is None:
        raise NotFound(f"video {video_id} not found", {"video_id": video_id})
    return video


def _stream_object(video: Any) -> tuple[Any, str | None]:
    """media_urls.stored_object for the video, without its HEAD request to S3 in proxy mode:
    the row's `size` is the rendition's own (the assembler probes the file it stores), so a
    Range GET costs one S3 request, not two."""
    from recordplus.core.storage import get_store
    from recordplus.videos.media_urls import EXTENSIONS, stored_object
    from recordplus.videos.models import Video
    from recordplus.videos.streaming import StoredObject

    ready = video.status == Video.Status.READY and video.video_key and video.size
    if not (ready and settings.STREAM_MODE == "proxy" and get_store().kind == "s3"):
        return stored_object(video, "video")
    content_type = video.content_type or "application/octet-stream"
    filename = f"{video.public_id}.{EXTENSIONS.get(content_type, 'bin')}"
    return StoredObject(video.video_key, int(video.size), content_type, video.ready_at or video.updated_at, filename), None


def _vary(request: LeanRequest) -> str:
    # Django's answer varies on Cookie when the session was consulted (no token, no signed URL).
    consulted_session = request.media_grant is None and not request.headers.get("Authorization")
    return "Cookie, origin" if consulted_session else "origin"


# --- the sync parts (pool threads) ---------------------------------------------------------------


def store_chunk(request: LeanRequest, path_id: int | None, body: IO[bytes]) -> Reply:
    """PATCH/PUT/POST …/update_video_chunck with a raw body: as api._store_chunk, same answers."""
    from recordplus.accounts.auth import authenticate
    from recordplus.videos import requests as req
    from recordplus.videos import services

    limited = _rate_limited(request)
    if limited is not None:
        return limited
    try:
        auth = authenticate(request)  # type: ignore[arg-type]
        length = request.headers.get("Content-Length")
        parsed = req.Parsed(
            fields={key: request.GET.get(key) for key in request.GET}, files=req.MultiValueDict(), raw=body,
            raw_size=int(length) if length and length.isdigit() else None,
        )
        video_id = req.int_field(parsed, "video_id", path_value=path_id, required=True)
        video = _owned_video(auth, video_id)
        data, size = req.chunk_body(parsed)
        stored = services.chunk_store(
            video=video, data=data, declared_size=size, chunk_index=req.int_field(parsed, "chunk_index"),
            last=req.bool_field(parsed, "last"), field=req.chunk_field(parsed),
        )
    except Exception as exc:  # noqa: BLE001 - every error is answered as Django's stack answers it
        return _error_reply(exc)
    finally:
        _tidy_connections()
    chunk = stored.chunk
    return _json(200, {
        "message": "Chunk uploaded successfully", "video_id": video.pk, "chunk_index": chunk.index,
        "size": chunk.size, "checksum": chunk.checksum, "duplicate": not stored.created,
    })


def plan_stream(request: LeanRequest, video_id: int) -> Reply:
    """GET/HEAD …/stream_video: as api.stream_video (signed URLs as media_links.signed_media)."""
    from recordplus.accounts.auth import authenticate
    from recordplus.core import signing
    from recordplus.core.errors import NotFound
    from recordplus.videos import media_links, streaming

    limited = _rate_limited(request)
    if limited is not None:
        return limited
    signed = "sig" in request.GET or "expires" in request.GET
    cors = {"Access-Control-Allow-Origin": "*",
            "Access-Control-Expose-Headers": "content-range, accept-ranges, content-length, etag"} if signed else {}
    try:
        if signed:
            try:
                request.media_grant = media_links.grant_for(request, video_id, "stream_video")  # type: ignore[arg-type]
            except (signing.SignatureRejected, NotFound) as exc:
                reply = _json(exc.status, error_body(exc.message, exc.detail))
                reply.headers.update(cors)
                return reply
        auth = authenticate(request)  # type: ignore[arg-type]
        if isinstance(auth, media_links.MediaGrant):
            video = media_links.video_for(auth, video_id, "video")
        else:
            video = _owned_video(auth, video_id)
        obj, redirect = _stream_object(video)
    except Exception as exc:  # noqa: BLE001 - answered as Django's stack answers it
        reply = _error_reply(exc)
        reply.headers.update(cors)
        return reply
    finally:
        _tidy_connections()
    if redirect:
        return Reply(302, {"Location": redirect, "Content-Type": "text/html; charset=utf-8", "Content-Length": "0", **cors})
    answer = streaming.answer_for(request.method, request.headers, obj)
    reply = Reply(answer.status, {**answer.headers, **cors}, answer.body)
    if not answer.sends_object and request.method != "HEAD":
        reply.headers.setdefault("Content-Length", str(len(answer.body)))  # as Django's CommonMiddleware sets it
    if answer.sends_object:
        reply.object_key, reply.start, reply.end = obj.key, answer.start, answer.end
    return reply


# --- the ASGI part ------------------------------------------------------------------------------


def _eligible(scope: Scope) -> tuple[str, re.Match[str]] | None:
    """('chunk' | 'stream', the path match) for a request this route answers itself, else None."""
    if scope.get("root_path"):
        return None
    method, path = scope["method"], scope["path"]
    if method in _CHUNK_METHODS:
        match = _CHUNK.match(path)
        if match is None or (match["name"] == "update_video_file" and match["id"] is None):
            return None
        kind = "chunk"
    elif method in _STREAM_METHODS:
        match = _STREAM.match(path)
        if match is None:
            return None
        kind = "stream"
    else:
        return None
    headers = dict(scope.get("headers") or [])
    if b"origin" in headers or headers.get(b"sec-fetch-site") == b"cross-site":
        return None
    if b"cookie" in headers and b"authorization" not in headers:
        return None
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    if kind == "chunk":
        ctype = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        if ctype not in _RAW_TYPES:
            return None
    return kind, match


async def _read_body(receive: Receive) -> IO[bytes] | None:
    """The request body, spooled to disk past FILE_UPLOAD_MAX_MEMORY_SIZE as Django does; None
    when the client went away (or BodyLimit / BodyTimeout stopped it): nothing is stored then."""
    body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            return None
        body.write(message.get("body", b""))
        if not message.get("more_body", False):
            body.seek(0)
            return body


def _header_list(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class HotPaths:
    """ASGI middleware answering the hot paths itself (see the module doc); `app` gets the rest."""

    def __init__(self, app: ASGIApp, *, threads: int | None = None) -> None:
        self.app = app
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads or settings.HOT_PATH_THREADS, thread_name_prefix="hot-path")
        return self._pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plan = _eligible(scope) if scope["type"] == "http" and settings.HOT_PATHS else None
        if plan is None:
            await self.app(scope, receive, send)
            return
        kind, match = plan
        started = time.perf_counter()
        request = LeanRequest.from_scope(scope)
        path_id = int(match["id"]) if match["id"] is not None else None
        loop = asyncio.get_running_loop()
        if kind == "chunk":
            route = "/api/record/videos/" + ("<video_id>/" if path_id is not None else "") + match["name"]
            body = await _read_body(receive)
            if body is None:
                return  # as Django: an aborted request gets no answer (BodyLimit/BodyTimeout send theirs)
            try:
                reply = await loop.run_in_executor(self.pool, store_chunk, request, path_id, body)
            finally:
                body.close()
        else:
            route = "/api/record/videos/<video_id>/stream_video"
            reply = await loop.run_in_executor(self.pool, plan_stream, request, path_id)
        reply.headers.setdefault("Vary", _vary(request))
        await send({"type": "http.response.start", "status": reply.status, "headers": _header_list(reply.headers)})
        method = request.method
        metrics.HTTP_REQUESTS.labels(route, method, str(reply.status)).inc()
        metrics.HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - started)
        if reply.object_key is None:
            await send({"type": "http.response.body", "body": reply.body})
            return
        await self._send_object(reply, send)

    async def _send_object(self, reply: Reply, send: Send) -> None:
        from recordplus.core.storage import get_store
        from recordplus.core.storage.filesystem import FileStore

        loop = asyncio.get_running_loop()
        store = get_store()
        if isinstance(store, FileStore):
            # One open file, big preads: no 1 MiB iterator round trips through a thread each.
            fd = await loop.run_in_executor(self.pool, os.open, store.path(reply.object_key), os.O_RDONLY)
            try:
                offset, remaining = reply.start, reply.end - reply.start + 1
                while remaining > 0:
                    piece = await loop.run_in_executor(self.pool, os.pread, fd, min(READ_BLOCK, remaining), offset)
                    if not piece:
                        break
                    offset += len(piece)
                    remaining -= len(piece)
                    await send({"type": "http.response.body", "body": piece, "more_body": remaining > 0})
                if remaining > 0:
                    await send({"type": "http.response.body", "body": b""})
            finally:
                os.close(fd)
            return
        pieces = store.read_range(reply.object_key, reply.start, reply.end)
        done = object()
        try:
            while True:
                piece = await loop.run_in_executor(self.pool, next, pieces, done)
                if piece is done:
                    break
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            pieces.close()  # type: ignore[attr-defined]
