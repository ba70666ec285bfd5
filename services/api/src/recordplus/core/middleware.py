"""Request plumbing: the seed's path spellings, JSON for every API error, request metrics."""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable

from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse

from recordplus.core import metrics
from recordplus.core.errors import error_body
from recordplus.core.origins import foreign_origin

logger = logging.getLogger(__name__)

Handler = Callable[[HttpRequest], HttpResponse]

_V1 = re.compile(r"^/api/v1/record(/|$)")


def legacy_paths(get_response: Handler) -> Handler:
    """Fold `/api/v1/record/…` onto `/api/record/…` and drop trailing slashes under it, so the
    seed's clients and new ones reach the same handlers."""

    def middleware(request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if _V1.match(path):
            path = "/api/record" + path[len("/api/v1/record"):]
        if path.startswith("/api/record/") and len(path) > len("/api/record/") and path.endswith("/"):
            path = path.rstrip("/")
        request.path_info = path
        return get_response(request)

    return middleware


def _json_error(status: int, message: str, detail: object = None) -> JsonResponse:
    return JsonResponse(error_body(message, detail), status=status)


# What a client is told to wait when the database is down (a restart takes seconds).
DATABASE_RETRY_AFTER_SECONDS = 5


def _database_unavailable(exc: BaseException | None) -> bool:
    """The database could not be reached or dropped the connection (down, restarting)."""
    from django.db import InterfaceError, OperationalError

    for _ in range(10):  # the exception and what caused it, a few levels deep
        if exc is None:
            return False
        if isinstance(exc, (OperationalError, InterfaceError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def api_errors(get_response: Handler) -> Handler:
    """Every answer under /api/ (and upload URLs, /u/) is JSON, even the ones Django or Ninja
    produce themselves."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(("/api/", "/u/")):
            return get_response(request)
        try:
            response = get_response(request)
        except Exception as exc:
            unavailable = _unavailable_answer(request, exc)
            if unavailable is not None:
                return unavailable
            logger.exception("unhandled error on %s %s", request.method, request.path)
            return _json_error(500, "internal error; the request was not completed")
        if response.status_code == 500:
            # Django turned an exception of an inner layer into a 500 before it reached us; it
            # was kept on the request (see _keep_exception).
            unavailable = _unavailable_answer(request, getattr(request, "_recordplus_exception", None))
            if unavailable is not None:
                return unavailable
        ctype = response.get("Content-Type", "")
        if response.status_code >= 400 and "json" not in ctype:
            if response.status_code == 405:
                allowed = response.get("Allow", "")
                answer = _json_error(405, f"method {request.method} not allowed here; use {allowed}", {"allow": allowed})
                if allowed:
                    answer["Allow"] = allowed  # RFC 9110 §15.5.6: a 405 must list the allowed methods
                return answer
            if response.status_code == 404:
                return _json_error(404, f"no such endpoint: {request.path}")
            if response.status_code >= 500:
                return _json_error(response.status_code, "internal error; the request was not completed")
            return _json_error(response.status_code, response.reason_phrase or "request failed")
        return response

    return middleware


def _keep_exception(sender: object, request: HttpRequest | None = None, **kwargs: object) -> None:
    """Keep the exception Django is turning into a 500 on its request, for api_errors."""
    if request is not None:
        request._recordplus_exception = sys.exc_info()[1]  # type: ignore[attr-defined]


got_request_exception.connect(_keep_exception, dispatch_uid="recordplus-keep-exception")


def _unavailable_answer(request: HttpRequest, exc: BaseException | None) -> JsonResponse | None:
    """503 JSON with Retry-After when `exc` says the database is down, else None."""
    if not _database_unavailable(exc):
        return None
    # Not a bug of ours and not the client's: say so, and when to try again.
    logger.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
    answer = _json_error(503, "the database is unavailable; nothing was changed, try again shortly")
    answer["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return answer


def cross_origin_guard(get_response: Handler) -> Handler:
    """Refuse API requests made by other web pages (see recordplus.core.origins), whatever
    the method: a simple cross-site POST would otherwise take effect even though the browser
    hides the answer. Requests through an upload URL are let through (any origin may use one)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith("/api/") or getattr(request, "upload_url", None) is not None:
            return get_response(request)
        if getattr(request, "media_grant", None) is not None:  # a signed media URL: any page may embed it
            return get_response(request)
        origin = foreign_origin(request)
        if origin is not None:
            metrics.UPLOAD_REJECTED.labels("foreign_origin").inc()
            return _json_error(
                403,
                "requests from other web pages are refused; a browser extension's content script "
                "uploads through its personal upload URL (recordplus upload-url)",
                {"origin": origin},
            )
        return get_response(request)

    return middleware


# Request metrics are labelled by method from this fixed set only (anything else is "other"):
# a label taken from the request would let any client create unbounded series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return "/" + (match.route or "").lstrip("^").rstrip("$")


def metrics_middleware(get_response: Handler) -> Handler:
    """Count requests and time them by route template (never by raw path: ids are unbounded)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = get_response(request)
        route = _route_of(request)
        method = request.method if request.method in _METHODS else "other"
        metrics.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        metrics.HTTP_LATENCY.labels(route, method).observe(time.perf_counter() - started)
        return response

    return middleware


