"""How a video's stored media is addressed: API URLs in payloads, and what a stream serves."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from recordplus.core import storage
from recordplus.core.errors import Conflict, NotFound
from recordplus.videos.models import Video
from recordplus.videos.streaming import StoredObject

EXTENSIONS = {"video/webm": "webm", "video/mp4": "mp4", "video/x-msvideo": "avi", "image/jpeg": "jpg"}


def video_payload(request: HttpRequest, video: Video, transcription: dict[str, Any] | None) -> dict[str, Any]:
    base = f"/api/record/videos/{video.pk}"
    return {
        "id": video.pk,
        "public_id": video.public_id,
        "title": video.title,
        "description": video.description,
        "status": video.status,
        "error": video.error,
        "progress": video.progress,
        "container": video.container,
        "video_codec": video.video_codec,
        "audio_codec": video.audio_codec,
        "duration": video.duration,
        "width": video.width,
        "height": video.height,
        "frame_rate": video.frame_rate,
        "has_audio": video.has_audio,
        "size": video.size,
        "content_type": video.content_type,
        "video_file": request.build_absolute_uri(f"{base}/stream_video/") if video.status == Video.Status.READY else None,
        "thumbnail_url": request.build_absolute_uri(f"{base}/thumbnail") if video.thumbnail_key else None,
        "created_at": video.created_at,
        "finalized_at": video.finalized_at,
        "ready_at": video.ready_at,
        "transcription": transcription,
    }


def stored_object(video: Video, what: str) -> tuple[StoredObject, str | None]:
    """The object to serve for `what` ("video", "thumbnail" or "original": the stitched upload
    exactly as received), and a presigned URL to redirect
    to instead when storage is S3 and STREAM_MODE is redirect."""
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
    if storage.is_s3() and settings.STREAM_MODE == "redirect":
        return StoredObject(key, 0, content_type, modified, filename), storage.presigned_url(
            key, content_type=content_type, filename=filename
        )
    size = storage.size(key)
    return StoredObject(key=key, size=size, content_type=content_type, modified=modified, filename=filename), None
