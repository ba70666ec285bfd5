"""HTTP handlers of the transcripts app: parse, call one service or selector, return a schema."""

from __future__ import annotations

from typing import Literal

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router

from recordplus.transcripts import live_stream, selectors, services
from recordplus.transcripts.schemas import TranscriptOut, TranscriptRequestedOut
from recordplus.videos.media_links import video_for
from recordplus.videos.selectors import video_get_for_user

router = Router(tags=["transcripts"])

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
# The text formats are answered as files; Ninja only knows the JSON one, so they are added here.
_TRANSCRIPT_DOCS = {
    "responses": {
        "200": {
            "description": "The transcript: JSON by default, or the file named by `format`.",
            "content": {
                "text/vtt": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        "403": {"description": "A signed URL that is altered, for another format or video, or expired", "content": _ERROR},
        "404": {"description": "No such video (or not yours), or no transcript yet", "content": _ERROR},
        "409": {"description": "The transcript is not done yet (text formats)", "content": _ERROR},
    },
    # A signed URL from the video's `signed_urls.transcript` needs no token (a <track src=…>).
    "parameters": [
        {"in": "query", "name": "expires", "required": False, "schema": {"type": "integer"},
         "description": "With `sig`: a signed transcript URL — the unix second it stops working."},
        {"in": "query", "name": "sig", "required": False, "schema": {"type": "string"},
         "description": "With `expires`: the URL's signature, bound to this video and format."},
    ],
}
_RERUN_DOCS = {
    "responses": {
        "404": {"description": "No such video (or not yours)", "content": _ERROR},
        "409": {"description": "The video is not ready, or is being transcribed right now", "content": _ERROR},
    }
}


@router.get(
    "/videos/{video_id}/transcript",
    response=TranscriptOut,
    summary="The video's transcript as JSON (words with times), WebVTT, SRT or plain text",
    openapi_extra=_TRANSCRIPT_DOCS,
)
def get_transcript(request: HttpRequest, video_id: int, format: Literal["json", "vtt", "srt", "txt"] = "json"):
    video = video_for(request.auth, video_id, f"transcript.{format}")
    transcript = selectors.transcript_get_for_video(video)
    if format == "json":
        return transcript
    document = selectors.transcript_document(transcript, format)
    response = HttpResponse(document.body, content_type=document.content_type)
    response["Content-Disposition"] = f'inline; filename="{document.filename}"'
    return response


@router.post(
    "/videos/{video_id}/transcript",
    response={202: TranscriptRequestedOut},
    summary="Transcribe the video again (after a failure, or with a new model)",
    openapi_extra=_RERUN_DOCS,
)
def request_transcript(request: HttpRequest, video_id: int):
    video = video_get_for_user(video_id, request.auth)
    transcript = services.transcript_rerun(video=video)
    return 202, {"message": "Transcription requested", "video_id": video.pk, "status": transcript.status}


_LIVE_DOCS = {
    "responses": {
        "200": {
            "description": "Server-Sent Events: `segment` (with `id`), `provisional`, then `done` or `failed`.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        "404": {"description": "No such video (or not yours)", "content": _ERROR},
    },
    "parameters": [
        {"in": "query", "name": "last_event_id", "required": False, "schema": {"type": "integer"},
         "description": "Resume after this segment index (as the Last-Event-ID header does)."},
    ],
}


# In the schema (text/event-stream, documented in _LIVE_DOCS) so /api/docs shows it; the schema
# fuzzer leaves it out (tests/api/test_schemathesis.py): an open-ended stream never "answers".
@router.get(
    "/videos/{video_id}/transcript/live",
    summary="The transcript as it is made: committed segments as Server-Sent Events, resumable",
    openapi_extra=_LIVE_DOCS,
)
def live_transcript(request: HttpRequest, video_id: int):
    video = video_get_for_user(video_id, request.auth)
    after = live_stream.resume_after(request.headers.get("Last-Event-ID"), request.GET.get("last_event_id"))
    events = live_stream.live_events(video.pk, after=after, keepalive=settings.LIVE_KEEPALIVE_SECONDS)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


# HEAD wherever GET works (RFC 9110); kept out of the schema so operation ids stay unique.
router.add_api_operation(
    "/videos/{video_id}/transcript", ["HEAD"], get_transcript, response=TranscriptOut, include_in_schema=False
)
