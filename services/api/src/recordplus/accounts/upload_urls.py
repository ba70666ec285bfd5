"""Personal upload URLs: `/u/<secret>/api/record/…` reaches the same API as `/api/record/…`,
authenticated by the secret in the path instead of a header.

Why: the original extension uploads from a content script inside the recorded page, so its
requests carry that page's Origin and no token. CORS cannot tell it from any website the user
visits; a secret it holds can. Requests through an upload URL

- may come from any origin (CORS is answered for them with `*`, never with credentials),
- may only create videos, upload chunks, finalize and read the upload status of their owner's
  videos — no listing, reading, streaming or deleting,
- act as the URL's owner (the local anonymous owner for the embedded mode's default URL).

A wrong or revoked secret is a 404 JSON answer, at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from recordplus.accounts.selectors import upload_url_for_secret
from recordplus.core.errors import error_body

Handler = Callable[[HttpRequest], HttpResponse]

PATH_PREFIX = "/u/"
_UPLOAD_PATH = re.compile(r"^/u/(?P<secret>[A-Za-z0-9_-]{1,200})(?P<rest>/api/(?:v1/)?record/.*)$")
# What an upload URL may do: (methods, path under /api/record/ with the v1 prefix folded).
_ALLOWED = (
    ({"POST"}, re.compile(r"^videos/?$")),
    ({"POST", "PATCH", "PUT"}, re.compile(r"^videos/(?:[0-9]+/)?update_video_(?:chunck|chunk|file)/?$")),
    ({"POST"}, re.compile(r"^videos/(?:[0-9]+/)?finalize_video_upload/?$")),
    ({"GET", "HEAD"}, re.compile(r"^videos/[0-9]+/upload/?$")),
)
_CORS_METHODS = "GET, HEAD, POST, PATCH, PUT, OPTIONS"
_CORS_HEADERS = "content-type, x-requested-with, range"


def _inner_route(rest: str) -> str:
    """`/api/record/videos/…` or `/api/v1/record/videos/…` → `videos/…`."""
    return re.sub(r"^/api/(?:v1/)?record/", "", rest)


def _allowed(method: str, route: str) -> bool:
    return any(method in methods and pattern.match(route) for methods, pattern in _ALLOWED)


def _open_cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Expose-Headers"] = "content-length"
    return response


def upload_urls(get_response: Handler) -> Handler:
    """Route `/u/<secret>/api/record/…` to the API as the secret's owner (see the module doc)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(PATH_PREFIX):
            return get_response(request)
        match = _UPLOAD_PATH.match(request.path_info)
        if match is None:
            return _open_cors(JsonResponse(error_body(f"no such endpoint: {request.path}"), status=404))
        if request.method == "OPTIONS":
            # A preflight carries no secret check: it reveals nothing, and the real request is checked.
            response = HttpResponse(status=204)
            response["Access-Control-Allow-Methods"] = _CORS_METHODS
            response["Access-Control-Allow-Headers"] = _CORS_HEADERS
            response["Access-Control-Max-Age"] = "600"
            return _open_cors(response)
        found = upload_url_for_secret(match["secret"])
        if found is None:
            body = error_body("this upload URL is not valid: it was revoked or mistyped; make a new one with `recordplus upload-url`")
            return _open_cors(JsonResponse(body, status=404))
        route = _inner_route(match["rest"])
        if not _allowed(request.method or "", route):
            body = error_body(
                "an upload URL can only create videos, upload chunks, finalize and read the upload status; "
                "use an API token for anything else",
                {"method": request.method, "route": route},
            )
            return _open_cors(JsonResponse(body, status=403))
        request.upload_url = found  # read by accounts.auth.authenticate
        request.path_info = match["rest"]
        return _open_cors(get_response(request))

    return middleware
