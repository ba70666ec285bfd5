"""Who is calling: bearer tokens for API clients, the web app's session (CSRF-checked), and
optional anonymous access (ALLOW_ANONYMOUS)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from ninja.errors import HttpError

from recordplus.accounts.selectors import user_for_token
from recordplus.core.anonymous import anonymous_allowed
from recordplus.core.errors import Unauthorized

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _csrf_failure(request: HttpRequest) -> str | None:
    """Why Django's CSRF check refuses this request, or None when it passes. The API's views are
    CSRF-exempt for token clients; a request that authenticates by session cookie must pass it,
    or any page the user visits could make the browser act for them."""
    reasons: list[str] = []

    def reject(_request: HttpRequest, reason: str = "") -> HttpResponse:
        reasons.append(reason)
        return HttpResponse(status=403)

    check = CsrfViewMiddleware(lambda _request: HttpResponse())
    check._reject = reject  # type: ignore[method-assign]  # keep the reason, not Django's HTML page
    check.process_request(request)
    check.process_view(request, lambda _request: HttpResponse(), (), {})
    return reasons[0] if reasons else None


def session_user(request: HttpRequest) -> Any:
    """The signed-in user of the web app's session, or None."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated and user.is_active else None


class Anonymous:
    """Stands for an unauthenticated caller when anonymous use is allowed."""

    is_anonymous = True
    pk = None

    def __bool__(self) -> bool:  # ninja treats a falsy auth result as "not authenticated"
        return True


ANONYMOUS = Anonymous()


def authenticate(request: HttpRequest) -> Any:
    """Ninja auth callable: the owner of the upload URL the request came through, a user for a
    valid token, the web app's signed-in user (CSRF-checked on writes), ANONYMOUS when allowed,
    else 401."""
    media_grant = getattr(request, "media_grant", None)
    if media_grant is not None:  # a signed media URL, checked by videos.media_links.signed_media
        return media_grant
    upload_url = getattr(request, "upload_url", None)
    if upload_url is not None:  # checked and restricted by accounts.upload_urls
        return upload_url.user or ANONYMOUS
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Authorization header must be 'Bearer <token>'")
        user = user_for_token(token.strip())
        if user is None:
            raise Unauthorized("invalid or revoked API token")
        return user
    user = session_user(request)
    if user is not None:
        if request.method not in _SAFE_METHODS:
            reason = _csrf_failure(request)
            if reason is not None:
                raise HttpError(403, f"CSRF check failed ({reason}): send the X-CSRFToken header the web app's pages carry")
        return user
    if anonymous_allowed(request):
        return ANONYMOUS
    raise Unauthorized(
        "an API token is required: send 'Authorization: Bearer <token>' "
        "(create one with `recordplus createuser NAME`)"
    )


def owner_of(auth: Any) -> Any:
    """The user to record as owner (None for anonymous)."""
    return None if getattr(auth, "is_anonymous", False) else auth
