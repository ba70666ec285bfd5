"""An ASGI wrapper that refuses request bodies larger than any chunk may be, while they stream.

Django's ASGI handler reads a whole body (spooling it to disk) before any view runs, and a
body sent with chunked transfer encoding has no Content-Length to refuse it by. Counting the
bytes as they arrive stops such a body at the limit instead of after the disk is full.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# Multipart framing and form fields around a chunk never need more than this.
BODY_OVERHEAD = 1024 * 1024


def max_body_bytes() -> int:
    """The largest request body any endpoint takes: a chunk plus its framing."""
    from django.conf import settings

    return settings.MAX_CHUNK_BYTES + BODY_OVERHEAD


class BodyLimit:
    """Answer 413 once more than `limit` body bytes have arrived for one request."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(send, f"request body is {int(declared)} bytes; at most {limit} are accepted", limit, origin, scope)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django treats a disconnect while reading as an aborted request and stops.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counting_receive, watching_send)
        if exceeded and not started:
            await self._refuse(
                send, f"request body is larger than {limit} bytes; at most {limit} are accepted", limit, origin, scope
            )

    @staticmethod
    async def _refuse(send: Send, message: str, limit: int, origin: str, scope: Scope) -> None:
        from recordplus.core import metrics
        from recordplus.core.errors import error_body
        from recordplus.core.origins import cors_allowed

        metrics.UPLOAD_REJECTED.labels("too_large").inc()
        body = json.dumps(error_body(message, {"max_body_bytes": limit})).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        # Answered before Django's CORS middleware runs: an extension must still read it.
        if str(scope.get("path", "")).startswith("/u/"):
            headers.append((b"access-control-allow-origin", b"*"))  # upload URLs answer any origin
        elif origin and cors_allowed(origin):
            headers += [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"origin")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
