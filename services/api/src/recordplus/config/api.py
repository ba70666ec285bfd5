"""The one NinjaAPI: mounts each app's router and renders every error once, as JSON."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.conf import settings
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security.base import AuthBase

from recordplus.accounts.auth import authenticate
from recordplus.core.errors import RecordPlusError, TooManyRequests, error_body
from recordplus.transcripts.api import router as transcripts_router
from recordplus.videos.api import router as videos_router

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Upload screen recordings in chunks, then stream the assembled video with its transcript.

**An upload**: `POST videos` with `title`, `description` and optionally the first chunk as
`video_file` → one `PATCH videos/update_video_chunck` per further chunk (`video_id`,
`chunk_index`, the bytes as a multipart file or a raw `application/octet-stream` body) →
`POST videos/finalize_video_upload` → poll `GET videos/{video_id}` until `status` is `ready`
(or `failed`, with `error`). `GET videos/{video_id}/upload` lists what arrived, to resume.

**Spellings clients use, all accepted**: every path also answers under `/api/v1/record/` and
with a trailing slash; chunks also go with `POST` or `PUT`, and to
`videos/{video_id}/update_video_file`; `HEAD` works wherever `GET` does. The chunk's file field
may be named `video_chunck`, `video_chunk`, `video_file`, `chunk` or `file`. `video_id` and
`chunk_index` may come in the form, a JSON body, the query string or the path (where both are
given they must agree). Multipart bodies need a `Content-Length` (411 otherwise).

**Authentication**: `Authorization: Bearer rp_…` (a token from `recordplus createuser NAME`;
*Authorize* above). Without the header the caller is anonymous, which the server allows only
when `ALLOW_ANONYMOUS` is on (the default for the embedded mode on a loopback address); a
wrong or malformed token is always 401.

**Personal upload URLs**: `/u/<secret>/api/record/…` reaches these same operations for clients
that cannot send a header (the original extension's content script): the secret in the path
authenticates as its owner, any origin may call it, and it may only create videos, upload
chunks, finalize and read the upload status (`recordplus upload-url`).

Every error is JSON `{"message": …, "detail": …}` with a 4xx status.
"""


class BearerToken(AuthBase):
    """`accounts.auth.authenticate`, declared as an HTTP bearer scheme so the OpenAPI schema
    (and Swagger UI's Authorize button) knows about tokens. Authentication itself is unchanged:
    upload URLs, tokens, and anonymous use where ALLOW_ANONYMOUS allows it."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_bearerFormat = "rp_…"
    openapi_description = (
        "An API token, `rp_…`, from `recordplus createuser NAME`, sent as `Authorization: Bearer rp_…`. "
        "Optional where the server allows anonymous use (ALLOW_ANONYMOUS: on by default for the embedded "
        "mode on a loopback address); personal upload URLs (/u/<secret>/api/record/…) need no token."
    )

    def __call__(self, request: HttpRequest) -> Any:
        return authenticate(request)


class RecordPlusAPI(NinjaAPI):
    """The NinjaAPI whose schema tells clients when a token is optional."""

    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict | None = None) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        if settings.ALLOW_ANONYMOUS:
            # `{}` among the alternatives: a token is optional on this server.
            for operations in schema["paths"].values():
                for operation in operations.values():
                    security = operation.get("security")
                    if security and {} not in security:
                        security.append({})
        return schema


api = RecordPlusAPI(
    title="RecordPlus API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="recordplus",
    docs_url="/docs",
    auth=BearerToken(),
)
api.add_router("/record/", videos_router)
api.add_router("/record/", transcripts_router)


def _error(request: HttpRequest, status: int, message: str, detail: object = None) -> HttpResponse:
    return api.create_response(request, error_body(message, detail), status=status)


@api.exception_handler(RecordPlusError)
def on_recordplus_error(request: HttpRequest, exc: RecordPlusError) -> HttpResponse:
    response = _error(request, exc.status, exc.message, exc.detail)
    if isinstance(exc, TooManyRequests):
        response["Retry-After"] = str(exc.retry_after)  # RFC 9110 §10.2.3, in seconds
    return response


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
