"""Request metrics are labelled from fixed sets only, whatever a client sends (issue 10 item 7).

The bug: `recordplus_http_requests_total` and `recordplus_http_request_duration_seconds` were
labelled with the raw HTTP method, so anyone (no token needed) could mint series — 20,000
requests with made-up method names made 200,510 series, a 20 MB /metrics and an 11 s scrape.
Its twin would be a raw path as the route label (ids and junk paths are unbounded). The fix
(core.middleware: unknown methods count as "other", routes are URL templates or "unmatched";
videos.hot_paths labels its two routes with fixed strings) has to hold on both routes into the
server: Django's stack and the lean ASGI hot path ahead of it.

Each test sends a few hundred anonymous requests with random methods, paths and query strings
to a live server, then reads /metrics: every method label must be in the fixed set, every route
label a template of the URLconf or "unmatched", and the request-metric series after 300
requests must be the very ones there were after the first 50 (the requests of both batches are
drawn from the same shapes, so only labels taken from the request itself could add series).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
from django.urls import URLResolver, get_resolver
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Stack

FIXED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"})
REQUEST_METRICS = ("recordplus_http_requests", "recordplus_http_request_duration_seconds")
# Methods HTTP parsers know (llhttp, which uvicorn's httptools protocol uses, refuses any other
# name before the application sees it; h11 accepts every token) but the API does not serve.
UNUSUAL_METHODS = ("PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
                   "PURGE", "LINK", "UNLINK", "MKCALENDAR", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "ACL",
                   "BIND", "REBIND", "UNBIND", "CHECKOUT", "MERGE", "MKACTIVITY", "M-SEARCH", "SOURCE", "TRACE")  # fmt: skip
FIRST_BATCH, TOTAL = 50, 300


def route_templates() -> set[str]:
    """Every route label the metrics may use: the URLconf's templates as core.middleware
    spells them (the server runs the same URLconf), /metrics and /readyz (served on the API's
    port when METRICS_PORT is unset, as in the test stacks), and "unmatched"."""

    def walk(patterns: list, prefix: str) -> Iterator[str]:
        for pattern in patterns:
            part = str(pattern.pattern)
            part = part[1:] if prefix and part.startswith("^") else part  # as ResolverMatch joins them
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + part)
            else:
                yield prefix + part

    templates = {"/" + route.lstrip("^").rstrip("$") for route in walk(get_resolver().url_patterns, "")}
    return templates | {"/metrics", "/readyz", "unmatched"}


def word(rng: random.Random, low: int = 3, high: int = 12, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def query(rng: random.Random) -> str:
    return "&".join(f"q{word(rng)}={word(rng, 0, 20)}" for _ in range(rng.randint(0, 4)))


def made_up_method(rng: random.Random) -> str:
    """A method no server defines (h11 passes it on) or one the parser knows but we do not
    serve (the only kind that gets past httptools)."""
    if rng.random() < 0.5:
        return rng.choice(UNUSUAL_METHODS)
    return "X" + word(rng, 3, 10, string.ascii_uppercase + string.digits + "-_")


@dataclass
class Request:
    method: str
    path: str
    content: bytes | None = None
    headers: dict[str, str] | None = None


def absent_video(rng: random.Random) -> str:
    """A video id no test made: the stack is shared with the whole session, and a short random id
    hit a real (anonymous) video in CI — a 206 or a stored chunk, a new status series."""
    return str(rng.randint(10**12, 10**18))


def django_request(rng: random.Random, number: int) -> Request:
    """A made-up method on one of a few path shapes, cycled so the first batch has them all."""
    video = absent_video(rng)
    shapes = (
        f"/api/record/videos/{word(rng)}/{word(rng)}",  # no such endpoint
        f"/api/record/videos/{video}/stream_video",  # an endpoint, not this method
        f"/api/v1/record/videos/{word(rng)}/",  # the seed's spelling of a video's detail
        "/api/record/videos",
        f"/{word(rng)}/{word(rng)}/{word(rng)}",  # outside the API
        f"/v/{word(rng)}",  # a web app page
    )
    path = shapes[number % len(shapes)]
    return Request(made_up_method(rng), f"{path}?{query(rng)}")


def hot_path_request(rng: random.Random, number: int) -> Request:
    """Requests the lean ASGI route answers itself (raw chunks and streams of random, absent
    video ids, random query strings), so its labels are checked, not Django's."""
    video = absent_video(rng)
    shapes = (
        Request("GET", f"/api/record/videos/{video}/stream_video?{query(rng)}", headers={"Range": f"bytes=0-{rng.randint(0, 99)}"}),
        Request("HEAD", f"/api/record/videos/{video}/stream_video/?{query(rng)}"),
        Request("PATCH", f"/api/record/videos/{video}/update_video_chunck?{query(rng)}", b"x" * rng.randint(1, 64),
                {"Content-Type": "application/octet-stream"}),
        Request("PUT", f"/api/v1/record/videos/{video}/update_video_file?{query(rng)}", b"y" * rng.randint(1, 64),
                {"Content-Type": "video/webm"}),
    )
    return shapes[number % len(shapes)]


Series = list[tuple[str, dict[str, str], float]]


def request_series(stack: Stack) -> Series:
    """(sample name, labels, value) of every request-metric series /metrics shows now."""
    text = httpx.get(f"{stack.url}/metrics", timeout=60).text
    return [(sample.name, dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text) if family.name in REQUEST_METRICS
            for sample in family.samples]  # fmt: skip


def label_sets(series: Series) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {(name, tuple(sorted(labels.items()))) for name, labels, _ in series}


def requests_counted(series: Series, **labels: str) -> float:
    """recordplus_http_requests_total summed over the series with these labels."""
    return sum(value for name, have, value in series
               if name == "recordplus_http_requests_total" and all(have.get(k) == v for k, v in labels.items()))  # fmt: skip


def assert_fixed_labels(series: Series, templates: set[str]) -> None:
    methods = {labels["method"] for _, labels, _ in series if "method" in labels}
    assert methods <= FIXED_METHODS, f"method labels outside the fixed set: {sorted(methods - FIXED_METHODS)[:20]}"
    routes = {labels["route"] for _, labels, _ in series if "route" in labels}
    assert routes <= templates, f"route labels that are not URL templates: {sorted(routes - templates)[:20]}"


def send_and_watch(stack: Stack, make: Callable[[random.Random, int], Request], seed: int) -> list[Request]:
    """Send TOTAL requests made by `make` and check the labels after FIRST_BATCH and at the end;
    the series must not have grown after the first batch. Returns what was sent."""
    rng = random.Random(seed)
    templates = route_templates()
    request_series(stack)  # the scrape itself is counted: its own series exist from here on
    sent: list[Request] = []
    after_first: Series = []
    with httpx.Client(base_url=stack.url, timeout=60) as client:  # no token: anyone can do this
        for number in range(TOTAL):
            request = make(rng, number)
            client.request(request.method, request.path, content=request.content, headers=request.headers)
            sent.append(request)
            if number + 1 == FIRST_BATCH:
                after_first = request_series(stack)
                assert_fixed_labels(after_first, templates)
    after_all = request_series(stack)
    assert_fixed_labels(after_all, templates)
    assert len({(r.method, r.path) for r in sent}) > TOTAL * 0.9, "the requests were meant to be distinct"
    new = label_sets(after_all) - label_sets(after_first)
    assert not new, f"{len(new)} request-metric series appeared in {TOTAL - FIRST_BATCH} more requests: {sorted(new)[:10]}"
    assert len(after_all) == len(after_first)
    return sent


def test_it_labels_django_requests_from_fixed_sets(stack: Stack) -> None:
    """Catches the raw method (or the raw path) as a label on requests through Django's stack
    (core.middleware.metrics_middleware without its _METHODS mapping)."""
    before = requests_counted(request_series(stack), method="other")
    sent = send_and_watch(stack, django_request, seed=7)
    counted = requests_counted(request_series(stack), method="other") - before
    # Counted, not dropped: every request the HTTP parser let through (at least those with a
    # method it knows; h11 lets the made-up ones through too) is under "other".
    known = sum(1 for request in sent if request.method in UNUSUAL_METHODS)
    assert known <= counted <= len(sent), (known, counted, len(sent))


def test_it_labels_hot_path_requests_from_fixed_sets(stack: Stack) -> None:
    """Catches the lean ASGI route (videos.hot_paths) labelling by raw path, id or method: its
    requests to random video ids with random query strings must add no series either, and each
    is counted under its route template."""
    before = request_series(stack)
    sent = send_and_watch(stack, hot_path_request, seed=11)
    after = request_series(stack)
    for method, route in (("GET", "stream_video"), ("HEAD", "stream_video"), ("PATCH", "update_video_chunck"),
                          ("PUT", "update_video_file")):  # fmt: skip
        labels = {"method": method, "route": f"/api/record/videos/<video_id>/{route}"}
        expected = sum(1 for request in sent if request.method == method)
        assert requests_counted(after, **labels) - requests_counted(before, **labels) == expected, labels
