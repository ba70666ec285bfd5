"""Signed, short-lived URLs for a video's media files, for clients that cannot send a header.

A `<video>` or `<track>` element cannot send `Authorization`, so a token user's stream would not
play. The video detail therefore carries, beside the plain URLs, signed ones:
`…/videos/N/stream_video?expires=T&sig=S`. The signature (recordplus.core.signing) covers the
video's public id, which file (`video`, `thumbnail`, `original`, `transcript.vtt` …) and the
expiry, with a key derived from MEDIA_URL_SECRET (or SECRET_KEY; in embedded mode without either,
a random secret kept in DATA_DIR/media-url.secret). It is good for MEDIA_URL_TTL_SECONDS.

The `signed_media` middleware checks a request that carries `sig`: on one of the media routes
only, before any other check, so a valid one is served without a token, from any web origin (as
a media element in another site's page is), and a bad one is a 403 JSON answer saying why. It
then stands in for the caller (`request.media_grant`, read by accounts.auth.authenticate), and
the handler serves exactly the file it grants. No token ever appears in a URL.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from recordplus.core import signing
from recordplus.core.errors import NotFound, error_body
from recordplus.videos import selectors
from recordplus.videos.models import Video

Handler = Callable[[HttpRequest], HttpResponse]

API_BASE = "/api/record/videos"
TRANSCRIPT_FORMATS = ("vtt", "srt", "txt", "json")
# Route suffix under videos/N/ for each signable file.
_FILES = {"video": "stream_video", "thumbnail": "thumbnail", "original": "original"}
_ROUTE = re.compile(rf"^{API_BASE}/(?P<id>[0-9]{{1,18}})/(?P<file>stream_video|thumbnail|original|transcript)$")
_KEY_PURPOSE = "media-url"
_key_lock = threading.Lock()
_keys: dict[tuple[str, str], bytes] = {}


def now() -> float:
    """The clock signatures are checked against (tests replace it; nothing sleeps)."""
    return time.time()


@dataclass(frozen=True)
class MediaGrant:
    """What a valid signed URL allows: one file of one video. Stands in for the caller."""

    video_id: int
    what: str
    expires: int
    is_anonymous: bool = False  # not a user; never recorded as an owner


def signing_key() -> bytes:
    """This server's key for media URLs (see the module doc), made once per process."""
    cache_key = (settings.MEDIA_URL_SECRET, str(settings.DATA_DIR))
    with _key_lock:
        if cache_key not in _keys:
            secret = settings.MEDIA_URL_SECRET or signing.secret_from_file(settings.DATA_DIR / "media-url.secret")
            _keys[cache_key] = signing.derive_key(secret, _KEY_PURPOSE)
        return _keys[cache_key]


def _parts(video: Video, what: str) -> tuple[str, ...]:
    return (video.public_id, what)


def _path(video_id: int, what: str) -> str:
    if what.startswith("transcript."):
        return f"{API_BASE}/{video_id}/transcript"
    return f"{API_BASE}/{video_id}/{_FILES[what]}"


def _absolute(request: HttpRequest, path: str) -> str:
    # Like upload URLs: where users reach the server (PUBLIC_URL), else the request's own host.
    return f"{settings.PUBLIC_URL}{path}" if settings.PUBLIC_URL else request.build_absolute_uri(path)


def signed_url(request: HttpRequest, video: Video, what: str, *, expires: int) -> str:
    query: dict[str, str] = {}
    if what.startswith("transcript."):
        query["format"] = what.removeprefix("transcript.")
    query["expires"] = str(expires)
    query["sig"] = signing.sign(signing_key(), _parts(video, what), expires)
    return f"{_absolute(request, _path(video.pk, what))}?{urlencode(query)}"


def media_links(request: HttpRequest, video: Video) -> dict[str, Any]:
    """The signed URLs of what the video has now (None for what it has not), and their expiry."""
    expires = int(now()) + settings.MEDIA_URL_TTL_SECONDS
    ready = video.status == Video.Status.READY
    available = {
        "stream": ready and bool(video.video_key),
        "thumbnail": ready and bool(video.thumbnail_key),
        # The upload as received stays downloadable after a failure (videos.media_urls).
        "original": bool(video.source_key) and video.status in (Video.Status.READY, Video.Status.FAILED),
    }
    whats = {"stream": "video", "thumbnail": "thumbnail", "original": "original"}
    links: dict[str, Any] = {
        name: signed_url(request, video, whats[name], expires=expires) if present else None
        for name, present in available.items()
    }
    # The reverse one-to-one by name: the videos app does not import transcripts.
    transcript = getattr(video, "transcript", None)
    done = transcript is not None and transcript.status == "done"
    links["transcript"] = (
        {fmt: signed_url(request, video, f"transcript.{fmt}", expires=expires) for fmt in TRANSCRIPT_FORMATS}
        if done
        else None
    )
    links["expires_at"] = expires
    return links


def _requested_file(request: HttpRequest, route_file: str) -> str | None:
    if route_file != "transcript":
        return {suffix: what for what, suffix in _FILES.items()}[route_file]
    fmt = request.GET.get("format", "json")
    return f"transcript.{fmt}" if fmt in TRANSCRIPT_FORMATS else None


def grant_for(request: HttpRequest, video_id: int, route_file: str) -> MediaGrant:
    """The grant of a signed media request, or SignatureRejected / NotFound saying why not."""
    what = _requested_file(request, route_file)
    if what is None:
        raise signing.SignatureRejected(f"no signed URL is made for format {request.GET.get('format', '')[:20]!r}")
    video = selectors.video_by_id(video_id)
    if video is None:
        raise NotFound(f"video {video_id} not found", {"video_id": video_id})
    expiry = signing.verify(
        signing_key(), _parts(video, what), request.GET.get("expires"), request.GET.get("sig"), now=now()
    )
    return MediaGrant(video_id=video.pk, what=what, expires=expiry)


def video_for(auth: Any, video_id: int, what: str) -> Video:
    """The video whose `what` a media handler serves: the one a signed URL grants, else the
    caller's own (NotFound for anyone else's)."""
    if isinstance(auth, MediaGrant):
        if (auth.video_id, auth.what) != (video_id, what):  # the middleware already matched them
            raise signing.SignatureRejected("this signed URL grants another file")
        video = selectors.video_by_id(video_id)
        if video is None:
            raise NotFound(f"video {video_id} not found", {"video_id": video_id})
        return video
    return selectors.video_get_for_user(video_id, auth)


def signed_media(get_response: Handler) -> Handler:
    """Check signed media requests (see the module doc). Runs after legacy_paths (canonical
    paths) and before the cross-origin guard, which lets a granted request through."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if "sig" not in request.GET and "expires" not in request.GET:
            return get_response(request)
        match = _ROUTE.match(request.path_info)
        if match is None or request.method not in ("GET", "HEAD"):
            return get_response(request)  # `sig` means nothing elsewhere; the usual rules apply
        try:
            request.media_grant = grant_for(request, int(match["id"]), match["file"])
        except (signing.SignatureRejected, NotFound) as exc:
            response = JsonResponse(error_body(exc.message, exc.detail), status=exc.status)
        else:
            response = get_response(request)
        # Any page may embed the file (a <track> or a `crossorigin` <video> needs CORS); no
        # credentials are involved, the URL itself is the permission.
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Expose-Headers"] = "content-range, accept-ranges, content-length, etag"
        return response

    return middleware
