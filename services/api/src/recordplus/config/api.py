"""The one NinjaAPI: mounts each app's router and renders every error once, as JSON."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from recordplus.accounts.auth import authenticate
from recordplus.core.errors import RecordPlusError, error_body
from recordplus.transcripts.api import router as transcripts_router
from recordplus.videos.api import router as videos_router

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="RecordPlus API",
    version="1",
    description=(
        "Upload screen recordings in chunks, then stream the assembled video with its transcript. "
        "Every path also answers under /api/v1/record/ and with a trailing slash."
    ),
    urls_namespace="recordplus",
    docs_url="/docs",
    auth=authenticate,
)
api.add_router("/record/", videos_router)
api.add_router("/record/", transcripts_router)


def _error(request: HttpRequest, status: int, message: str, detail: object = None) -> HttpResponse:
    return api.create_response(request, error_body(message, detail), status=status)


@api.exception_handler(RecordPlusError)
def on_recordplus_error(request: HttpRequest, exc: RecordPlusError) -> HttpResponse:
    return _error(request, exc.status, exc.message, exc.detail)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields = [".".join(str(p) for p in err.get("loc", [])) for err in exc.errors]
    return _error(request, 400, f"invalid request: {', '.join(fields) or 'bad input'}", exc.errors)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "authentication required")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(RequestDataTooBig)
def on_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, "request body too large")
