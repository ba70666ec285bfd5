"""Bearer-token authentication for the API, with optional anonymous access (ALLOW_ANONYMOUS)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from recordplus.accounts.selectors import user_for_token
from recordplus.core.errors import Unauthorized


class Anonymous:
    """Stands for an unauthenticated caller when anonymous use is allowed."""

    is_anonymous = True
    pk = None

    def __bool__(self) -> bool:  # ninja treats a falsy auth result as "not authenticated"
        return True


ANONYMOUS = Anonymous()


def authenticate(request: HttpRequest) -> Any:
    """Ninja auth callable: the owner of the upload URL the request came through, a user for a
    valid token, ANONYMOUS when allowed, else 401."""
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
    if settings.ALLOW_ANONYMOUS:
        return ANONYMOUS
    raise Unauthorized(
        "an API token is required: send 'Authorization: Bearer <token>' "
        "(create one with `recordplus createuser NAME`)"
    )


def owner_of(auth: Any) -> Any:
    """The user to record as owner (None for anonymous)."""
    return None if getattr(auth, "is_anonymous", False) else auth
