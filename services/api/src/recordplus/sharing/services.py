"""Writes for share links: share a video (by link, optionally until a date) or make it private."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from recordplus.core.errors import BadRequest
from recordplus.sharing.models import ShareLink
from recordplus.videos.models import Video


@transaction.atomic
def share_link_create(*, video: Video, expires_at: datetime | None = None) -> ShareLink:
    """A new link for `video`, valid until `expires_at` (forever when None). Any link shared
    before is revoked, so there is one live link per video and "new link" retires the old URL."""
    if expires_at is not None and expires_at <= timezone.now():
        raise BadRequest("the expiry date must be in the future", {"expires_at": expires_at.isoformat()})
    share_link_revoke_all(video=video)
    return ShareLink.objects.create(video=video, expires_at=expires_at)


def share_link_revoke_all(*, video: Video) -> int:
    """Make the video private: every live link stops working at once (404). Returns how many."""
    return ShareLink.objects.filter(video=video, revoked_at__isnull=True).update(revoked_at=timezone.now())
