"""Reads for share links."""

from __future__ import annotations

from django.db.models import Q
from django.utils import timezone

from recordplus.core.errors import NotFound
from recordplus.sharing.models import ShareLink
from recordplus.videos.models import Video


def _live() -> Q:
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))


def share_link_live_for_video(video: Video) -> ShareLink | None:
    """The video's live link (None: the video is private)."""
    return ShareLink.objects.filter(_live(), video=video).first()


def share_link_get_live(token: str) -> ShareLink:
    """The live link with this token and its video, or NotFound — the same answer for a token
    that never existed, was revoked or has expired, so a visitor learns nothing from it."""
    if not token or len(token) > 64:
        raise NotFound("this link does not exist or is no longer shared")
    link = ShareLink.objects.select_related("video").filter(_live(), token=token).first()
    if link is None:
        raise NotFound("this link does not exist or is no longer shared")
    return link
