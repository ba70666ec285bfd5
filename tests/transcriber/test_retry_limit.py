"""A transient transcription error is retried by a real Dramatiq worker, and stops.

Kills the mutant "transcriber transient error retried forever" (the attempts check in
`core.jobs.run_attempt` dropped, or the claim-time give-up in `transcript_claim` dropped): the
job below always fails with a storage error, and a real worker with Dramatiq's Retries
middleware redelivers it. It must stop after exactly TRANSCRIBE_MAX_ATTEMPTS engine runs, with
the transcript `failed` and the storage error as its reason — not a redelivery loop, and not
the claim-time "worker stopped" message one attempt too late.
"""

from __future__ import annotations

from pathlib import Path

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from recordplus.core import jobs, messaging
from recordplus.transcriber import job
from recordplus.transcriber.config import transcribe_settings
from recordplus.transcripts import services
from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)

MAX_ATTEMPTS = transcribe_settings().max_attempts


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # noqa: ANN001 - pytest-django's fixture
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def test_it_gives_up_a_transient_error_after_the_attempts_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messaging, "send_transcribe", lambda video_id, **_: None)
    broker = StubBroker()
    broker.emit_after("process_boot")
    runs: list[int] = []

    def unreachable_storage(video, settings):  # noqa: ANN001, ANN202
        runs.append(video.pk)
        raise ConnectionError("storage unreachable")

    monkeypatch.setattr(job, "_transcript_of", unreachable_storage)

    # The production actor's body and retry options, bound to a private broker with a short
    # backoff so the redeliveries happen within the test.
    @dramatiq.actor(
        broker=broker, queue_name="transcribe-retry-limit", actor_name="transcribe-retry-limit",
        min_backoff=1, max_backoff=20, **jobs.ACTOR_OPTIONS,
    )  # fmt: skip
    def transcribe_video(video_id: int) -> None:
        job.transcribe(video_id)

    video = Video.objects.create(title="talk", status=Video.Status.READY, has_audio=True)
    services.transcript_request(video_id=video.pk)
    transcribe_video.send(video.pk)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=10)
    worker.start()
    try:
        # join returns once no message is queued, delayed or in flight: a redelivery loop
        # would never get there (TimeoutError after the deadline).
        broker.join("transcribe-retry-limit", fail_fast=False, timeout=60_000)
        worker.join()
    finally:
        worker.stop()
        broker.close()

    transcript = Transcript.objects.get(video=video)
    assert runs == [video.pk] * MAX_ATTEMPTS, f"the engine ran {len(runs)} times, not {MAX_ATTEMPTS}"
    assert transcript.attempts == MAX_ATTEMPTS
    assert transcript.status == "failed" and transcript.lease_expires_at is None
    assert "storage unreachable" in transcript.error
    assert f"gave up after {MAX_ATTEMPTS} attempts" in transcript.error
