"""Which web origins may talk to the API, decided in one place.

The API answers browsers on its own origin, and origins the operator allowed for CORS
(CORS_ALLOWED_ORIGINS, CORS_ALLOWED_ORIGIN_REGEXES: by default any Chrome extension's own
pages). Every other web page is refused by the server itself — not only by the browser, which
would still *send* a simple request (a form POST) and let it take effect. Content scripts, which
speak with the recorded page's origin, use a personal upload URL instead
(recordplus.accounts.upload_urls).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import HttpRequest


def cors_allowed(origin: str) -> bool:
    """An origin the operator allowed for CORS (the API answers it with its own origin)."""
    return origin in settings.CORS_ALLOWED_ORIGINS or any(
        re.match(pattern, origin) for pattern in settings.CORS_ALLOWED_ORIGIN_REGEXES
    )


def same_origin(request: HttpRequest, origin: str) -> bool:
    """`origin` is the API's own (the page was served by us)."""
    return origin.lower() == f"{request.scheme}://{request.get_host()}".lower()


def foreign_origin(request: HttpRequest) -> str | None:
    """The web origin of a request from another site that is not allowed, else None.

    A request with no Origin header and no `Sec-Fetch-Site: cross-site` (curl, API clients,
    same-site navigation) is not a foreign web page.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return "(cross-site, no Origin)" if request.headers.get("Sec-Fetch-Site") == "cross-site" else None
    if same_origin(request, origin) or cors_allowed(origin):
        return None
    return origin
