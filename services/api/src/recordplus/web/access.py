"""Who may see the web app: the signed-in user, or anyone on a loopback embedded server.

The rule is the API's (accounts.auth, core.anonymous): with ALLOW_ANONYMOUS on (the default for the embedded
mode bound to loopback) the app opens without sign-in and shows the local owner's recordings.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from recordplus.accounts.auth import ANONYMOUS, session_user
from recordplus.core.anonymous import anonymous_allowed
from recordplus.core.errors import RecordPlusError

View = Callable[..., HttpResponse]


def viewer(request: HttpRequest) -> Any:
    """The signed-in user, ANONYMOUS where anonymous use is allowed, else None."""
    user = session_user(request)
    if user is not None:
        return user
    return ANONYMOUS if anonymous_allowed(request) else None


def signed_in(view: View) -> View:
    """Run `view` with `request.viewer` set, or send the visitor to the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        who = viewer(request)
        if who is None:
            return HttpResponseRedirect(f"{reverse('web:login')}?{urlencode({'next': request.get_full_path()})}")
        request.viewer = who
        return view(request, *args, **kwargs)

    return wrapper


def html_errors(view: View) -> View:
    """Render RecordPlusError as the app's error page with its status (404 for another user's
    video, 409 for a video still processing, 400 for a bad form), never a traceback."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RecordPlusError as exc:
            return render(request, "web/error.html", {"status": exc.status, "message": exc.message}, status=exc.status)

    return wrapper
