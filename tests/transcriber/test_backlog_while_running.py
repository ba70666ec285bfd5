"""/metrics counts a transcription that is running, while it runs.

Kills the mutant "the backlog gauge's running part set to 0": KEDA scales the GPU transcriber
from `recordplus_queue_backlog_jobs{queue="transcribe"}` summed over states, so a gauge that
forgets running jobs reads 0 during the last job and lets KEDA scale the busy pod to zero
mid-transcription. A real transcription job (engine replaced by one that waits on an event) is
held running in a thread while /metrics is read, then released.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from recordplus.core import messaging
from recordplus.transcriber import job
from recordplus.transcripts import services
from recordplus.transcripts.models import Transcript
from recordplus.transcripts.records import TranscriptResult
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # noqa: ANN001 - pytest-django's fixture
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    values = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def jobs_gauge(values: dict, state: str) -> float:
    return values[("recordplus_queue_backlog_jobs", (("queue", "transcribe"), ("state", state)))]


def test_it_reports_a_running_transcription_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messaging, "send_transcribe", lambda video_id, **_: None)
    started, release = threading.Event(), threading.Event()

    def held_engine(video, settings):  # noqa: ANN001, ANN202
        started.set()
        assert release.wait(60), "the test never released the job"
        return TranscriptResult("faster-whisper", "tiny.en", "en", [], 42.0, 1.0)

    monkeypatch.setattr(job, "_transcript_of", held_engine)
    video = Video.objects.create(title="talk", status=Video.Status.READY, has_audio=True, duration=42.0)
    services.transcript_request(video_id=video.pk)
    before = scrape()
    assert (jobs_gauge(before, "waiting"), jobs_gauge(before, "running")) == (1, 0)

    errors: list[BaseException] = []

    def run() -> None:
        try:
            job.transcribe(video.pk)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    worker = threading.Thread(target=run, name="transcribe-held")
    worker.start()
    try:
        assert started.wait(60), f"the job never reached the engine: {errors}"
        during = scrape()
        assert Transcript.objects.get(video=video).status == "running"
        assert jobs_gauge(during, "running") == 1, "a running transcription must count in the backlog"
        assert jobs_gauge(during, "waiting") == 0
        # The audio still to transcribe includes the job in progress.
        assert during[("recordplus_transcription_backlog_audio_seconds", ())] == 42.0
    finally:
        release.set()
        worker.join(60)
    assert not errors, errors
    after = scrape()
    assert Transcript.objects.get(video=video).status == "done"
    assert (jobs_gauge(after, "waiting"), jobs_gauge(after, "running")) == (0, 0)
    assert after[("recordplus_transcription_backlog_audio_seconds", ())] == 0.0
