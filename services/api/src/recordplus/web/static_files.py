"""The web app's CSS and JavaScript, served by the API process itself in both modes: nothing to
collect or build, and the ingress needs no extra route."""

from __future__ import annotations

from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import http_date

STATIC_ROOT = Path(__file__).parent / "static" / "web"
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def asset(request: HttpRequest, path: str) -> HttpResponse:
    """One file under static/web/ (no listing, nothing outside it), sent whole: they are small."""
    target = (STATIC_ROOT / path).resolve()
    if STATIC_ROOT.resolve() not in target.parents or not target.is_file() or target.suffix not in TYPES:
        raise Http404("no such asset")
    stat = target.stat()
    response = HttpResponse(target.read_bytes(), content_type=TYPES[target.suffix])
    response["Last-Modified"] = http_date(stat.st_mtime)
    response["Cache-Control"] = "no-cache"  # revalidated each time: a new release shows at once
    return response
