"""Scrape-time gauges of the work waiting and running, read from the database and the broker.

KEDA scales the workers from these. They count running jobs as well as waiting ones, so a
busy worker is never scaled to zero mid-job (a broker's ready count alone would do that).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


class BacklogCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import F, Sum

        from recordplus.core import messaging
        from recordplus.transcripts.models import LiveWindow, Transcript
        from recordplus.videos.models import Video

        jobs = GaugeMetricFamily(
            "recordplus_queue_backlog_jobs",
            "Pipeline jobs the database says are waiting or running, by queue and state.",
            labels=["queue", "state"],
        )
        audio = GaugeMetricFamily(
            "recordplus_transcription_backlog_audio_seconds",
            "Seconds of audio waiting for or in transcription.",
        )
        uploading = GaugeMetricFamily(
            "recordplus_uploads_in_progress", "Videos still receiving chunks (status uploading)."
        )
        broker = GaugeMetricFamily(
            "recordplus_broker_queue_messages",
            "Messages waiting in the broker (ready and delayed), by queue.",
            labels=["queue"],
        )
        try:
            assembling = Video.objects.filter(status=Video.Status.ASSEMBLING)
            jobs.add_metric(["assemble", "waiting"], assembling.filter(assembly_started_at__isnull=True).count())
            jobs.add_metric(["assemble", "running"], assembling.filter(assembly_started_at__isnull=False).count())
            transcripts = Transcript.objects
            # Live windows (issue 11) are transcriber work too: KEDA scales on both.
            windows = LiveWindow.objects.filter(video__live_transcript__status__in=["active", "ended"])
            live_waiting = windows.filter(status=LiveWindow.Status.PENDING)
            live_running = windows.filter(status=LiveWindow.Status.RUNNING)
            jobs.add_metric(
                ["transcribe", "waiting"],
                transcripts.filter(status=Transcript.Status.PENDING).count() + live_waiting.count(),
            )
            jobs.add_metric(
                ["transcribe", "running"],
                transcripts.filter(status=Transcript.Status.RUNNING).count() + live_running.count(),
            )
            waiting_audio = transcripts.filter(
                status__in=[Transcript.Status.PENDING, Transcript.Status.RUNNING]
            ).aggregate(total=Sum("video__duration"))["total"]
            live_audio = windows.filter(
                status__in=[LiveWindow.Status.PENDING, LiveWindow.Status.RUNNING]
            ).aggregate(total=Sum(F("end") - F("start")))["total"]
            audio.add_metric([], float(waiting_audio or 0.0) + float(live_audio or 0.0))
            uploading.add_metric([], Video.objects.filter(status=Video.Status.UPLOADING).count())
        except Exception:  # a scrape must not fail because the database blinked
            logger.warning("backlog gauges unavailable: database query failed", exc_info=True)
        try:
            for queue, depth in messaging.queue_depths().items():
                broker.add_metric([queue], depth)
        except Exception:
            logger.warning("broker queue depths unavailable", exc_info=True)
        yield jobs
        yield audio
        yield uploading
        yield broker
