"""A fault-injecting HTTP proxy on loopback in front of moto's S3 server.

Requests are forwarded unchanged (the Host header too, so SigV4 signatures stay valid), except
that a deterministic schedule of faults is applied per kind of request: a 503 SlowDown, a
connection reset before any answer, a slow answer, and the first CompleteMultipartUpload
dropped (answered 500 without being forwarded). Counts of what was injected are kept, so a
test can prove the faults happened.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_SECONDS = 1.0
_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate (injected)</Message></Error>"
)


def kind_of(method: str, path: str) -> str:
    query = urlsplit(path).query
    if method == "POST" and "uploadId=" in query:
        return "complete"
    if method == "PUT" and "partNumber=" in query:
        return "part"
    if method == "PUT":
        return "put"
    if method == "GET":
        return "get"
    return method.lower()


class FaultyS3Proxy:
    """Forward to `upstream` (http://127.0.0.1:port); `url` is where clients connect."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.seen: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy.decide(self.command, self.path)
                if fault == "reset":
                    # RST instead of an answer: the client sees "connection reset by peer".
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                if fault in ("slowdown", "drop"):
                    self.send_response(503 if fault == "slowdown" else 500)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(_SLOW_DOWN)))
                    self.end_headers()
                    self.wfile.write(_SLOW_DOWN)
                    return
                if fault == "slow":
                    time.sleep(SLOW_SECONDS)  # the injected fault itself: a slow S3
                upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    data = answer.read()
                finally:
                    upstream.close()
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "keep-alive"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="faulty-s3")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def decide(self, method: str, path: str) -> str | None:
        """The fault for this request, from a fixed schedule per request kind."""
        kind = kind_of(method, path)
        with self.lock:
            self.seen[kind] += 1
            n = self.seen[kind]
            fault = None
            if kind == "complete" and self.injected["drop"] == 0:
                fault = "drop"
            elif kind in ("part", "put") and n % 3 == 1:
                fault = "slowdown"
            elif kind in ("part", "put") and n % 3 == 2:
                fault = "reset"
            elif kind == "get" and n % 4 == 0:
                fault = "slow"
            elif kind == "get" and n % 5 == 0:
                fault = "reset"
            if fault:
                self.injected[fault] += 1
            return fault

    def __enter__(self) -> FaultyS3Proxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
