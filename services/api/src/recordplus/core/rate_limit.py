"""Requests per minute per caller (RATE_LIMIT_REQUESTS_PER_MINUTE): a token bucket per key.

A caller is its bearer token, its personal upload URL, or — anonymous — its client address.
Each bucket holds up to one minute's worth of requests and refills continuously, so a client
may burst (the original extension sends all its pieces at once) but not sustain more than the
limit. Buckets live in this process's memory: with several API processes the limit applies to
each. Over the limit the answer is 429 with `Retry-After` and the project's JSON error body.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from recordplus.core import metrics
from recordplus.core.errors import TooManyRequests

Handler = Callable[[HttpRequest], HttpResponse]

# Buckets kept at most; when full, the ones that have refilled completely (idle callers) go.
MAX_KEYS = 10_000


class RateLimiter:
    """Token buckets of `per_minute` requests, by caller key. `clock` is injectable for tests."""

    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request of `key`: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._store(key, tokens - 1.0, now)
                return 0.0
            self._store(key, tokens, now)
            return (1.0 - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        if key not in self._buckets and len(self._buckets) >= MAX_KEYS:
            full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * self.rate >= self.capacity]
            for k in full:
                del self._buckets[k]
            if len(self._buckets) >= MAX_KEYS:  # every one is busy: forget the oldest
                del self._buckets[min(self._buckets, key=lambda k: self._buckets[k][1])]
        self._buckets[key] = (tokens, now)


def caller_key(request: HttpRequest) -> str:
    """Who is asking, without a database lookup: token, upload URL or client address."""
    upload_url = getattr(request, "upload_url", None)
    if upload_url is not None:
        return f"upload-url:{upload_url.pk}"
    header = request.headers.get("Authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()[:32]
    return f"address:{request.META.get('REMOTE_ADDR', '')}"


def too_many(retry_after: float) -> TooManyRequests:
    per_minute = settings.RATE_LIMIT_REQUESTS_PER_MINUTE
    return TooManyRequests(
        f"too many requests: at most {per_minute} a minute (RATE_LIMIT_REQUESTS_PER_MINUTE); "
        f"try again in {math.ceil(retry_after)} s",
        {"limit_per_minute": per_minute, "retry_after": math.ceil(retry_after)},
        retry_after=math.ceil(retry_after),
    )


_current: RateLimiter | None = None


def current_limiter() -> RateLimiter | None:
    """The buckets of the middleware this process built last (None when the limit is off), so
    the lean ASGI route (videos.hot_paths) spends from the same buckets as Django's stack."""
    if settings.RATE_LIMIT_REQUESTS_PER_MINUTE <= 0:
        return None
    return _current


def rate_limit(get_response: Handler) -> Handler:
    """Middleware: 429 + Retry-After for callers over RATE_LIMIT_REQUESTS_PER_MINUTE on /api/
    and upload URLs (health, metrics and docs are not counted). Off when the setting is 0."""
    global _current
    per_minute = settings.RATE_LIMIT_REQUESTS_PER_MINUTE
    if per_minute <= 0:
        return get_response
    limiter = _current = RateLimiter(per_minute)

    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(("/api/", "/u/")) or request.path_info.startswith("/api/docs"):
            return get_response(request)
        wait = limiter.take(caller_key(request))
        if wait <= 0:
            return get_response(request)
        metrics.UPLOAD_REJECTED.labels("rate_limited").inc()
        error = too_many(wait)
        response = JsonResponse(error.body(), status=error.status)
        response["Retry-After"] = str(error.retry_after)
        return response

    return middleware
