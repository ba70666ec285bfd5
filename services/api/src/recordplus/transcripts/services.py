"""Writes for transcripts."""

from __future__ import annotations

from django.db import transaction

from recordplus.core import messaging
from recordplus.transcripts.models import Transcript


def transcript_request(*, video_id: int) -> Transcript:
    """Create (or reset to pending) the video's transcript and enqueue the transcriber after commit."""
    transcript, created = Transcript.objects.get_or_create(video_id=video_id)
    if not created and transcript.status != Transcript.Status.DONE:
        transcript.status = Transcript.Status.PENDING
        transcript.error = ""
        transcript.save(update_fields=["status", "error", "updated_at"])
    if transcript.status == Transcript.Status.PENDING:
        transaction.on_commit(lambda: messaging.send_transcribe(video_id))
    return transcript


def transcript_reconcile(*, stale_seconds: float | None) -> list[int]:
    """Re-enqueue transcripts left pending or running (stale ones only, unless None)."""
    from datetime import timedelta

    from django.utils import timezone

    transcripts = Transcript.objects.filter(status__in=[Transcript.Status.PENDING, Transcript.Status.RUNNING])
    if stale_seconds is not None:
        transcripts = transcripts.filter(updated_at__lt=timezone.now() - timedelta(seconds=stale_seconds))
    video_ids = list(transcripts.values_list("video_id", flat=True))
    Transcript.objects.filter(video_id__in=video_ids).update(updated_at=timezone.now())
    for video_id in video_ids:
        messaging.send_transcribe(video_id)
    return video_ids
