from __future__ import annotations

from django.db import models

from recordplus.videos.models import Video


class Transcript(models.Model):
    """The transcription of one video: status, words with times, and where the caption files are."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="transcript")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    language = models.CharField(max_length=16, blank=True, default="")
    engine = models.CharField(max_length=32, blank=True, default="")
    model = models.CharField(max_length=255, blank=True, default="")
    text = models.TextField(blank=True, default="")
    segments = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    audio_seconds = models.FloatField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Fraction of the audio transcribed so far (0..1) while running; 1 once done.
    progress = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # While `running`: when the worker's hold on the job lapses (its time limit plus a margin).
    # Past it, a crashed or killed worker's job is taken over instead of staying `running`.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"transcript of video {self.video_id} ({self.status})"
