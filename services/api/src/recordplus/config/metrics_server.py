"""The API process's second listener (METRICS_PORT): /metrics, /readyz and /healthz only.

`recordplus serve` starts it beside uvicorn when METRICS_PORT is set, and the public port then
answers 404 for /metrics and /readyz (config/urls.py), so an ingress that routes "/" to the API
cannot expose the metrics or the readiness details (which name internal hosts and errors).
Prometheus, the kubelet's readiness probe and `helm test` reach this port directly.

It is a plain threaded HTTP server rather than a second uvicorn: it must answer while the
public server is saturated by uploads, and it bypasses the Django request stack on purpose
(no ALLOWED_HOSTS check against a scraper's pod-IP Host header, no request metrics counting
the scrapes themselves).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from recordplus.core.env import ImproperlyConfiguredEnv

logger = logging.getLogger(__name__)

# A connection that sends no complete request within this many seconds is dropped.
REQUEST_TIMEOUT_SECONDS = 15


class _Handler(BaseHTTPRequestHandler):
    timeout = REQUEST_TIMEOUT_SECONDS
    server_version = "recordplus-metrics"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's naming
        path = self.path.split("?", 1)[0]
        try:
            if path == "/metrics":
                from recordplus.config.health import exposition

                self._send(200, exposition(), CONTENT_TYPE_LATEST)
            elif path == "/readyz":
                from recordplus.config.health import readiness

                ready, checks = readiness()
                body = {"status": "ready" if ready else "not ready", "checks": checks}
                self._send(200 if ready else 503, json.dumps(body).encode(), "application/json")
            elif path == "/healthz":
                self._send(200, b'{"status": "ok"}', "application/json")
            else:
                message = {"message": f"no such endpoint on the metrics port: {path}", "detail": None}
                self._send(404, json.dumps(message).encode(), "application/json")
        finally:
            # Each request runs in its own thread, with its own database connection.
            from django.db import connections

            connections.close_all()

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # scrapes every few seconds: keep quiet
        logger.debug("metrics listener: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def start(host: str, port: int, *, public_port: int) -> ThreadingHTTPServer:
    """Listen on (host, port) in a daemon thread; `shutdown()` the result to stop it."""
    if port == public_port:
        raise ImproperlyConfiguredEnv(
            f"METRICS_PORT={port} is the port the API serves on; choose another (or 0 to serve /metrics there)"
        )
    server_class = _Server6 if ":" in host else _Server
    try:
        server = server_class((host, port), _Handler)
    except OSError as exc:
        raise ImproperlyConfiguredEnv(f"METRICS_PORT={port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    threading.Thread(target=server.serve_forever, name="metrics-listener", daemon=True).start()
    logger.info("metrics and readiness on http://%s:%s/metrics, /readyz", host, port)
    return server
