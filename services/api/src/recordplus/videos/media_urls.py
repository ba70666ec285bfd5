"""What a stream serves for a video's stored media, or where it redirects to."""

from __future__ import annotations

from django.conf import settings

from recordplus.core.errors import Conflict, NotFound
from recordplus.core.storage import get_store
from recordplus.videos.models import Video
from recordplus.videos.streaming import StoredObject

EXTENSIONS = {"video/webm": "webm", "video/mp4": "mp4", "video/x-msvideo": "avi", "image/jpeg": "jpg"}


def stored_object(video: Video, what: str, *, download_as: str | None = None) -> tuple[StoredObject, str | None]:
    """The object to serve for `what` ("video", "thumbnail" or "original": the stitched upload
    exactly as received), and a presigned URL to redirect
    to instead when the store has direct URLs (S3) and STREAM_MODE is redirect. With
    `download_as` the presigned answer is an attachment under that name (a "save as" link)."""
    # The original stays downloadable when processing failed: it is what the user sent.
    original_kept = what == "original" and video.status == Video.Status.FAILED and video.source_key
    if video.status != Video.Status.READY and not original_kept:
        raise Conflict(
            f"video {video.pk} is not ready yet (status: {video.status})",
            {"status": video.status, "progress": video.progress, "error": video.error},
        )
    if what == "thumbnail":
        key, content_type = video.thumbnail_key, "image/jpeg"
    elif what == "original":
        key, content_type = video.source_key, "application/octet-stream"
    else:
        key, content_type = video.video_key, video.content_type or "application/octet-stream"
    if not key:
        raise NotFound(f"video {video.pk} has no {what} (status: {video.status})")
    filename = f"{video.public_id}.{EXTENSIONS.get(content_type, 'bin')}"
    modified = video.ready_at or video.updated_at
    store = get_store()
    if settings.STREAM_MODE == "redirect":
        url = store.presigned_url(
            key, content_type=content_type, filename=download_as or filename, attachment=download_as is not None
        )
        if url is not None:
            return StoredObject(key, 0, content_type, modified, filename), url
    size = store.size(key)
    return StoredObject(key=key, size=size, content_type=content_type, modified=modified, filename=filename), None
