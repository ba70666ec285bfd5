"""The one error hierarchy, shared by the API and the workers.

Every error a client can cause maps to a 4xx JSON body `{"message": …, "detail": …}` built by
`error_body()` (the API renders them in one exception handler). In a worker the same classes
say whether retrying can help (`permanent`) and give a short, stable `reason` slug for the
`reason` label of recordplus_pipeline_failures_total.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

from typing import Any


def error_body(message: str, detail: Any = None) -> dict[str, Any]:
    """The JSON body of every error answer: the one place its shape is spelled."""
    return {"message": message, "detail": detail}


class RecordPlusError(Exception):
    """Base of every error RecordPlus raises on purpose.

    `status` is the HTTP status to answer; `permanent` says a background job hitting it should
    fail at once rather than retry; `reason` names the kind of failure in metrics.
    """

    status: int = 400
    code: str = "bad_request"
    permanent: bool = True
    reason: str = "error"

    def __init__(self, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.detail)


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


class Gone(RecordPlusError):
    """The upload expired (idle longer than UPLOAD_EXPIRY_SECONDS); its chunks were removed."""

    status = 410
    code = "gone"


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


class TooManyRequests(RecordPlusError):
    """A quota or the request rate limit is reached; `retry_after` seconds tell when to try again
    (sent as the Retry-After header)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, detail: Any = None, *, retry_after: int = 60) -> None:
        super().__init__(message, detail)
        self.retry_after = max(int(retry_after), 1)


class VideoDeleted(RecordPlusError):
    """The video was deleted by its owner while a worker was processing it; the job stops."""

    status = 404
    code = "not_found"
    reason = "deleted"


class ServiceUnavailable(RecordPlusError):
    """A dependency (database, storage, broker) cannot be reached right now; retry later."""

    status = 503
    code = "unavailable"
    permanent = False
    reason = "unavailable"


class MediaRejected(RecordPlusError):
    """The upload is not a usable video; the message is the reason shown to the user.

    Never retried: the same bytes give the same answer.
    """

    status = 422
    code = "media_rejected"
    reason = "rejected"


class MediaBeyondLimits(MediaRejected):
    """The upload claims more than this server processes (an absurd sample rate, frame rate or
    frame size, a duration over MAX_VIDEO_SECONDS or beyond its bytes, a pixel budget over
    FFMPEG_TIMEOUT_SECONDS): refused for good, the message names the limit."""

    reason = "limits"


class JobFailed(RecordPlusError):
    """A background job recorded its failure for good (the row says why); never retried."""

    code = "job_failed"
    reason = "failed"
