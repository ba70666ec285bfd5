"""A shared video's media, served through its share link (the visitor has no account)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect

from recordplus.core.errors import NotFound
from recordplus.transcripts import selectors as transcript_selectors
from recordplus.videos import streaming
from recordplus.videos.media_urls import stored_object
from recordplus.videos.models import Video

# What a share link serves: the player's media and the two text files of the transcript.
STORED = ("video", "thumbnail")
DOCUMENTS = {"captions": "vtt", "transcript": "txt"}


def serve_shared(request: HttpRequest, video: Video, what: str) -> HttpResponseBase:
    """Range-served video or thumbnail (a presigned redirect in cluster mode, as the API does),
    or the WebVTT captions / plain-text transcript."""
    if what in STORED:
        obj, redirect = stored_object(video, what)
        return HttpResponseRedirect(redirect) if redirect else streaming.serve(request, obj)
    if what in DOCUMENTS:
        transcript = transcript_selectors.transcript_get_for_video(video)
        document = transcript_selectors.transcript_document(transcript, DOCUMENTS[what])
        response = HttpResponse(document.body, content_type=document.content_type)
        response["Content-Disposition"] = f'inline; filename="{document.filename}"'
        return response
    raise NotFound("no such file")
