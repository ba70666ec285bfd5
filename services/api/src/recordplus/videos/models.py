from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models

from recordplus.core.storage import keys


def new_public_id() -> str:
    return secrets.token_urlsafe(12)


class Video(models.Model):
    """One recording: its upload state, the pipeline's progress and the finished media's facts."""

    class Status(models.TextChoices):
        UPLOADING = "uploading"
        ASSEMBLING = "assembling"
        READY = "ready"
        FAILED = "failed"
        # An unfinished upload left idle longer than UPLOAD_EXPIRY_SECONDS; its chunks are gone.
        EXPIRED = "expired"

    public_id = models.CharField(max_length=32, unique=True, default=new_public_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="videos"
    )
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADING, db_index=True)
    error = models.TextField(blank=True, default="")
    progress = models.FloatField(default=0.0)

    # Media facts, filled by the assembler.
    container = models.CharField(max_length=32, blank=True, default="")
    video_codec = models.CharField(max_length=32, blank=True, default="")
    audio_codec = models.CharField(max_length=32, blank=True, default="")
    duration = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    frame_rate = models.FloatField(null=True, blank=True)
    has_audio = models.BooleanField(null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=64, blank=True, default="")

    # Storage keys.
    source_key = models.CharField(max_length=512, blank=True, default="")
    video_key = models.CharField(max_length=512, blank=True, default="")
    thumbnail_key = models.CharField(max_length=512, blank=True, default="")
    audio_key = models.CharField(max_length=512, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_chunk_at = models.DateTimeField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    assembly_started_at = models.DateTimeField(null=True, blank=True)
    # Bumped each time a worker claims the assembly, so a job that kills its worker still
    # uses up an attempt (see recordplus.core.jobs).
    assembly_attempts = models.PositiveIntegerField(default=0)
    # Held by the worker running the assembly, renewed while it lives (ASSEMBLE_LEASE_SECONDS):
    # another claim (a reconciler's duplicate message) waits until it has run out.
    assembly_lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The total the client declared (finalize's chunk_count, or `last` on a chunk): when every
    # index below it is there, assembly starts without the settle window.
    declared_chunks = models.PositiveIntegerField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    # What the upload brought, kept when the chunk rows are dropped at `ready` (null before).
    received_chunks = models.PositiveIntegerField(null=True, blank=True)
    received_bytes = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"video {self.pk} ({self.status})"

    @property
    def storage_prefix(self) -> str:
        return keys.video_prefix(self.public_id)


class Chunk(models.Model):
    """A received piece of a recording, stored as its own object until the video is stitched."""

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    # True when the client said where the chunk goes (chunk_index, or the create call's first
    # chunk); False when it sent none and `index` is only the order of arrival, which the
    # assembler replaces by the order it reads from the container itself.
    indexed = models.BooleanField(default=True)
    size = models.BigIntegerField()
    checksum = models.CharField(max_length=64)
    key = models.CharField(max_length=512)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["video", "index"], name="chunk_unique_index_per_video")]

    def __str__(self) -> str:
        return f"chunk {self.index} of video {self.video_id}"
