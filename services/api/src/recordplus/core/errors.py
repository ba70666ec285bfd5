"""The one error hierarchy. Every error a client can cause maps to a 4xx JSON body
`{"message": …, "detail": …}`; the API renders them in one exception handler."""

from __future__ import annotations

from typing import Any


class RecordPlusError(Exception):
    """Base of every error RecordPlus raises on purpose; `status` is the HTTP status to answer."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class BadRequest(RecordPlusError):
    """The request is malformed: a missing or invalid field, an unreadable body."""


class Unauthorized(RecordPlusError):
    """No valid credentials were given and anonymous use is off (or the token is wrong)."""

    status = 401
    code = "unauthorized"


class NotFound(RecordPlusError):
    """The thing does not exist, or belongs to someone else (never say which)."""

    status = 404
    code = "not_found"


class Conflict(RecordPlusError):
    """The request contradicts the stored state: a finalized video, a different re-sent chunk, gaps."""

    status = 409
    code = "conflict"


class LengthRequired(RecordPlusError):
    """A body whose format needs its length declared came without Content-Length."""

    status = 411
    code = "length_required"


class PayloadTooLarge(RecordPlusError):
    """A chunk is bigger than MAX_CHUNK_BYTES."""

    status = 413
    code = "payload_too_large"


class RangeNotSatisfiable(RecordPlusError):
    """A Range header asks for bytes the video does not have."""

    status = 416
    code = "range_not_satisfiable"

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message, {"size": size})
        self.size = size


class ServiceUnavailable(RecordPlusError):
    """A dependency (database, storage, broker) cannot be reached right now; retry later."""

    status = 503
    code = "unavailable"
