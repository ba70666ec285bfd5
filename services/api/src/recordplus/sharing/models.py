from __future__ import annotations

import secrets

from django.db import models

from recordplus.videos.models import Video


def new_share_token() -> str:
    """192 random bits, URL-safe: unguessable, and unrelated to the video's ids."""
    return secrets.token_urlsafe(24)


class ShareLink(models.Model):
    """A link that lets anyone holding it watch one video without an account.

    A video with no live link is private (owner only). A link is live until it is revoked and,
    when `expires_at` is set, until then. Revoking keeps the row (so the old URL answers 404,
    never another video), and a new link gets a new token.
    """

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="share_links")
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["video", "revoked_at"])]

    def __str__(self) -> str:
        return f"share link {self.token[:6]}… of video {self.video_id}"
