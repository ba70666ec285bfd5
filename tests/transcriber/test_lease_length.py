"""The lease a transcription job takes covers its whole time limit.

Kills the mutant "transcription lease shortened to 120 s": with a lease shorter than
TRANSCRIBE_TIME_LIMIT, a second worker (a duplicate message, or the reconciler's pass) takes
over a job that is still running and transcribes it twice. The lease is read from the row while
a real job (engine held on an event) runs. Lease *locking* on PostgreSQL is tested in
tests/cluster/test_transcript_lease.py.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from recordplus.core import messaging
from recordplus.transcriber import job
from recordplus.transcriber.config import transcribe_settings
from recordplus.transcripts import services
from recordplus.transcripts.models import Transcript
from recordplus.transcripts.records import TranscriptResult
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # noqa: ANN001 - pytest-django's fixture
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def test_it_holds_the_lease_for_longer_than_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messaging, "send_transcribe", lambda video_id, **_: None)
    limit = transcribe_settings().time_limit_seconds
    started, release = threading.Event(), threading.Event()

    def held_engine(video, settings):  # noqa: ANN001, ANN202
        started.set()
        assert release.wait(60), "the test never released the job"
        return TranscriptResult("faster-whisper", "tiny.en", "en", [], 1.0, 1.0)

    monkeypatch.setattr(job, "_transcript_of", held_engine)
    video = Video.objects.create(title="talk", status=Video.Status.READY, has_audio=True)
    services.transcript_request(video_id=video.pk)
    before = timezone.now()
    worker = threading.Thread(target=job.transcribe, args=(video.pk,))
    worker.start()
    try:
        assert started.wait(60), "the job never reached the engine"
        transcript = Transcript.objects.get(video=video)
        assert transcript.status == "running"
        lease = transcript.lease_expires_at - before
        assert lease > timedelta(seconds=limit), f"lease {lease} is shorter than the {limit}s time limit"
        # A duplicate message meanwhile finds the job held and leaves it alone.
        assert services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=3) is None
    finally:
        release.set()
        worker.join(60)
    assert Transcript.objects.get(video=video).status == "done"
