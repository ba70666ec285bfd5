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


class LiveTranscript(models.Model):
    """The progressive transcription of a video while its chunks arrive (issue 11): where the
    decoder stands in the stream, the audio of the window still open, and how many windows
    were closed. Changed only through `recordplus.transcripts.live_services`."""

    class Status(models.TextChoices):
        ACTIVE = "active"  # decoding as chunks arrive
        ENDED = "ended"  # the whole recording is decoded; windows may still be transcribing
        FINISHED = "finished"  # the Transcript was completed from the windows
        ABANDONED = "abandoned"  # the live path gave up: the whole-file transcription runs

    video = models.OneToOneField(Video, on_delete=models.CASCADE, related_name="live_transcript")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    error = models.TextField(blank=True, default="")
    # The WebM walk (recordplus.assembler.live_webm.WebmCursor) and the chunk it stands in.
    cursor = models.JSONField(default=dict, blank=True)
    next_chunk = models.PositiveIntegerField(default=0)
    chunk_start = models.BigIntegerField(default=0)
    # The audio decoded so far, in 16 kHz samples of the recording's timeline; the open
    # window starts at `window_start` and its PCM is stored in `open_pieces` ([start, count, key]).
    decoded_samples = models.BigIntegerField(default=0)
    window_start = models.BigIntegerField(default=0)
    open_pieces = models.JSONField(default=list, blank=True)
    # The last block received (held until the next one says where it ends) and the blocks
    # that prime the next decode step.
    held = models.JSONField(null=True, blank=True)
    priming = models.JSONField(default=list, blank=True)
    windows = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # The provisional caption (best effort): what samples [provisional_start, provisional_end)
    # of the open window say, from a cheap engine pass; shown only while provisional_start is
    # still `window_start` (cleared when that window closes). `provisional_mark` is the
    # decoded_samples when the last pass was requested, `provisional_lease_expires_at` the
    # hold of the one pass in flight (a dead worker's runs out).
    provisional_text = models.TextField(blank=True, default="")
    provisional_start = models.BigIntegerField(default=0)
    provisional_end = models.BigIntegerField(default=0)
    provisional_mark = models.BigIntegerField(default=0)
    provisional_lease_expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"live transcript of video {self.video_id} ({self.status})"


class LiveWindow(models.Model):
    """One window of a live transcription: a stretch of audio cut at a pause, transcribed on
    its own; `segments` hold times from the start of the recording."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    video = models.ForeignKey(Video, on_delete=models.CASCADE, related_name="live_windows")
    index = models.PositiveIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    audio_key = models.CharField(max_length=512)
    segments = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=16, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["video", "index"]
        constraints = [models.UniqueConstraint(fields=["video", "index"], name="live_window_unique_index_per_video")]

    def __str__(self) -> str:
        return f"live window {self.index} of video {self.video_id} ({self.status})"
