"""A video's media for the web app: a shared video's player media (the visitor has no account),
and the files a viewer downloads (video, captions, transcript), named after the title."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.utils.http import content_disposition_header

from recordplus.core.errors import NotFound
from recordplus.transcripts import selectors as transcript_selectors
from recordplus.videos import streaming
from recordplus.videos.media_urls import EXTENSIONS, stored_object
from recordplus.videos.models import Video

# What a share link serves: the player's media and the two text files of the transcript.
STORED = ("video", "thumbnail")
DOCUMENTS = {"captions": "vtt", "transcript": "txt"}
# What a download link gives: the video and the two text files.
DOWNLOADS = ("video", *DOCUMENTS)
# What some system people save to refuses in a file name: separators become "-", control
# characters spaces, the rest goes.
_FILE_NAME_SAFE = str.maketrans(
    {**dict.fromkeys('/\\:|', "-"), **dict.fromkeys('*?"<>'), **dict.fromkeys([*map(chr, range(32)), "\x7f"], " ")}
)


def _document(video: Video, what: str) -> HttpResponse:
    transcript = transcript_selectors.transcript_get_for_video(video)
    document = transcript_selectors.transcript_document(transcript, DOCUMENTS[what])
    response = HttpResponse(document.body, content_type=document.content_type)
    response["Content-Disposition"] = f'inline; filename="{document.filename}"'
    return response


def serve_shared(request: HttpRequest, video: Video, what: str) -> HttpResponseBase:
    """Range-served video or thumbnail (a presigned redirect in cluster mode, as the API does),
    or the WebVTT captions / plain-text transcript."""
    if what in STORED:
        obj, redirect = stored_object(video, what)
        return HttpResponseRedirect(redirect) if redirect else streaming.serve(request, obj)
    if what in DOCUMENTS:
        return _document(video, what)
    raise NotFound("no such file")


def download_name(video: Video, extension: str) -> str:
    """`<title>.<extension>`, with what file systems refuse taken out ("recording" if nothing is left)."""
    stem = " ".join(video.title.translate(_FILE_NAME_SAFE).split()).strip(". ")[:120] or "recording"
    return f"{stem}.{extension}"


def serve_download(request: HttpRequest, video: Video, what: str) -> HttpResponseBase:
    """The video (Range honoured), the WebVTT captions or the text transcript as an attachment
    named after the title. In cluster mode the video is a redirect to a presigned URL whose
    answer is that attachment (a link's `download` attribute alone is ignored once a redirect
    leaves the origin); the bytes do not pass through the API."""
    if what not in DOWNLOADS:
        raise NotFound("no such file")
    if what == "video":
        name = download_name(video, EXTENSIONS.get(video.content_type or "application/octet-stream", "bin"))
        obj, redirect = stored_object(video, "video", download_as=name)
        if redirect is not None:
            return HttpResponseRedirect(redirect)
        response = streaming.serve(request, obj)
    else:
        response = _document(video, what)
        name = download_name(video, DOCUMENTS[what])
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
