"""Dropping slow clients: a deadline for a request's headers and one for each piece of its body.

A client that opens connections and sends its headers a byte at a time (slowloris) would
otherwise hold a connection, and the server's file descriptors, for as long as it likes:
uvicorn's `timeout_keep_alive` covers only idle time *between* requests, and is cancelled by
the first byte of the next one.

- Headers: `header_timeout_protocol` makes uvicorn's HTTP protocol close a connection whose
  request headers are not complete `HTTP_HEADER_TIMEOUT_SECONDS` after it was opened (or after
  the previous response on it), with a 408. `recordplus serve` uses it; headers are parsed
  before any ASGI application runs, so only the server can time them.
- Body: `BodyTimeout` (ASGI, so it also applies under a plain uvicorn or gunicorn) answers 408
  and closes the connection when no piece of the request body arrives for
  `HTTP_BODY_TIMEOUT_SECONDS`; the view sees a disconnected client and stores nothing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADER_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"Content-Type: application/json\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)


def _uvicorn_protocol() -> type[asyncio.Protocol]:
    """The protocol uvicorn's `http="auto"` would pick."""
    if importlib.util.find_spec("httptools") is not None:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    from uvicorn.protocols.http.h11_impl import H11Protocol

    return H11Protocol


def header_timeout_protocol(seconds: float, base: type[asyncio.Protocol] | None = None) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (`base`, default: what "auto" picks), closing a connection whose
    request headers take longer than `seconds`. Pass the result as `uvicorn.run(http=...)`."""
    parent: Any = base or _uvicorn_protocol()

    class HeaderTimeoutProtocol(parent):  # type: ignore[misc, valid-type]
        # uvicorn starts a request/response cycle (`self.cycle`) once a request's headers are
        # parsed: a new cycle object is the sign that the headers we were waiting for came.
        _header_timer: asyncio.TimerHandle | None = None
        _waiting_cycle: Any = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._disarm_if_headers_came()

        def on_response_complete(self) -> None:
            # Armed first: the next request on this connection may already be buffered, and
            # uvicorn parses it inside on_response_complete.
            if not self.transport.is_closing():
                self._arm_header_timer()
            super().on_response_complete()
            self._disarm_if_headers_came()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_header_timer()
            super().connection_lost(exc)

        def _arm_header_timer(self) -> None:
            self._cancel_header_timer()
            self._waiting_cycle = self.cycle
            self._header_timer = self.loop.call_later(seconds, self._header_timeout)

        def _disarm_if_headers_came(self) -> None:
            if self._header_timer is not None and self.cycle is not self._waiting_cycle:
                self._cancel_header_timer()

        def _cancel_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _header_timeout(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.cycle is not self._waiting_cycle:
                return
            body = json.dumps(
                {"message": f"request headers not received within {seconds:g} s", "detail": {"timeout_seconds": seconds}}
            ).encode()
            self.transport.write(_HEADER_TIMEOUT_RESPONSE % (len(body), body))
            self.transport.close()

    HeaderTimeoutProtocol.__name__ = f"HeaderTimeout{parent.__name__}"
    return HeaderTimeoutProtocol


class BodyTimeout:
    """Answer 408 (and close) when no piece of a request body arrives for `seconds()`."""

    def __init__(self, app: ASGIApp, seconds: Callable[[], float]) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        timeout = self.seconds()
        body_done = False
        timed_out = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done or timeout <= 0:
                # After the body, an application waits here for the client to go away: no deadline.
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout)
            except asyncio.TimeoutError:
                # Django treats a disconnect while reading the body as an aborted request.
                timed_out = True
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, timed_receive, watching_send)
        if timed_out and not started:
            await _refuse(send, timeout)


async def _refuse(send: Send, timeout: float) -> None:
    from recordplus.core.errors import error_body

    body = json.dumps(
        error_body(f"request body stalled: nothing arrived for {timeout:g} s", {"timeout_seconds": timeout})
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 408, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def body_timeout_seconds() -> float:
    from django.conf import settings

    return settings.HTTP_BODY_TIMEOUT_SECONDS
