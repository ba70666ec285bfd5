"""The transcript's state machine: claim with a lease, finish, fail, retry, give up, reconcile.

These run the real services and the job under the shared retry rule (`core.jobs`) against the
test database; only the engine is replaced (by a function raising the failure under test),
since what is tested is our bookkeeping.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from dramatiq.middleware import TimeLimitExceeded

from recordplus.core import jobs, messaging
from recordplus.core.errors import JobFailed
from recordplus.transcriber import job
from recordplus.transcriber.config import transcribe_settings
from recordplus.transcriber.errors import AudioError, ModelUnavailable, SourceMissing, TranscriptionTimedOut
from recordplus.transcriber.words import place_words
from recordplus.transcripts import services
from recordplus.transcripts.records import Segment, TranscriptResult
from recordplus.transcripts.models import Transcript
from recordplus.videos.models import Video

pytestmark = pytest.mark.django_db(transaction=True)

MAX_ATTEMPTS = transcribe_settings().max_attempts


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:  # noqa: ANN001 - pytest-django's fixture
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Messages the services would send to the broker."""
    ids: list[int] = []
    monkeypatch.setattr(messaging, "send_transcribe", lambda video_id, **_: ids.append(video_id))
    return ids


@pytest.fixture
def video() -> Video:
    return Video.objects.create(title="talk", status=Video.Status.READY, has_audio=True)


def _result() -> TranscriptResult:
    words = place_words([{"word": "hello", "start": 0.1, "end": 0.5, "score": 0.9}], 0.0, 1.0)
    return TranscriptResult("faster-whisper", "tiny.en", "en", [Segment(0.0, 1.0, "hello", words)], 1.0, 0.5)


def test_it_requests_once_and_enqueues_after_commit(video: Video, sent: list[int]) -> None:
    transcript = services.transcript_request(video_id=video.pk)
    assert transcript.status == "pending" and sent == [video.pk]
    transcript.status = Transcript.Status.DONE
    transcript.save()
    services.transcript_request(video_id=video.pk)  # a re-finished video is not transcribed twice
    assert sent == [video.pk]


def test_it_claims_a_pending_transcript_with_a_lease(video: Video, sent: list[int]) -> None:
    services.transcript_request(video_id=video.pk)
    claimed = services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS)
    assert claimed is not None and claimed.status == "running" and claimed.attempts == 1
    assert claimed.lease_expires_at > timezone.now()
    # A second worker (a duplicate message) leaves it alone while the lease holds.
    assert services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS) is None


def test_it_takes_over_a_job_whose_worker_died(video: Video, sent: list[int]) -> None:
    services.transcript_request(video_id=video.pk)
    services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS)
    Transcript.objects.filter(video=video).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    claimed = services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS)
    assert claimed is not None and claimed.attempts == 2


def test_it_gives_up_on_a_job_whose_worker_died_every_time(video: Video, sent: list[int]) -> None:
    # A poison message: each attempt killed the worker (OOM, kill -9), none recorded a result.
    services.transcript_request(video_id=video.pk)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        claimed = services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS)
        assert claimed is not None and claimed.attempts == attempt
        Transcript.objects.filter(video=video).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS) is None
    transcript = Transcript.objects.get(video=video)
    assert transcript.status == "failed" and transcript.lease_expires_at is None
    assert f"gave up after {MAX_ATTEMPTS} attempts" in transcript.error
    assert "worker stopped" in transcript.error
    # Failed for good: the reconciler leaves it alone.
    assert services.transcript_reconcile(stale_seconds=None) == []


def test_it_never_reclaims_finished_work(video: Video, sent: list[int]) -> None:
    services.transcript_request(video_id=video.pk)
    claimed = services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS)
    services.transcript_complete(transcript=claimed, result=_result())
    assert services.transcript_claim(video_id=video.pk, lease_seconds=60, max_attempts=MAX_ATTEMPTS) is None
    assert services.transcript_claim(video_id=987654, lease_seconds=60, max_attempts=MAX_ATTEMPTS) is None  # no such video


def test_it_reconciles_lost_and_orphaned_jobs(video: Video, sent: list[int]) -> None:
    other = Video.objects.create(title="other", status=Video.Status.READY)
    services.transcript_request(video_id=video.pk)
    services.transcript_request(video_id=other.pk)
    services.transcript_claim(video_id=video.pk, lease_seconds=600, max_attempts=MAX_ATTEMPTS)
    sent.clear()
    # A periodic pass: nothing is stale yet, the running job's lease holds.
    assert services.transcript_reconcile(stale_seconds=300) == []
    # The lease lapses (the worker died): the next pass takes it back.
    Transcript.objects.filter(video=video).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.transcript_reconcile(stale_seconds=300) == [video.pk]
    assert Transcript.objects.get(video=video).status == "pending"
    # Embedded start-up (stale_seconds=None): every unfinished transcript, whatever its age.
    sent.clear()
    assert sorted(services.transcript_reconcile(stale_seconds=None)) == sorted([video.pk, other.pk])
    assert sorted(sent) == sorted([video.pk, other.pk])


def test_it_stores_a_finished_transcript_and_its_documents(
    video: Video, sent: list[int], monkeypatch: pytest.MonkeyPatch, media_root: Path
) -> None:
    services.transcript_request(video_id=video.pk)
    monkeypatch.setattr(job, "_transcript_of", lambda video, settings: _result())
    job.transcribe(video.pk)
    transcript = Transcript.objects.get(video=video)
    assert (transcript.status, transcript.text, transcript.engine, transcript.model) == (
        "done", "hello", "faster-whisper", "tiny.en"
    )
    assert transcript.segments[0]["words"][0]["word"] == "hello"
    assert (transcript.language, transcript.audio_seconds, transcript.wall_seconds) == ("en", 1.0, 0.5)
    assert transcript.lease_expires_at is None and transcript.finished_at is not None
    for fmt in ("json", "vtt", "srt", "txt"):
        assert (media_root / f"videos/{video.public_id}/transcript.{fmt}").is_file()
    # Idempotent: a duplicate message finds it done and changes nothing.
    job.transcribe(video.pk)
    assert Transcript.objects.get(video=video).finished_at == transcript.finished_at


@pytest.mark.parametrize("error", [ModelUnavailable("Whisper model 'large-v9' cannot be loaded offline"), AudioError("bad audio")])
def test_it_fails_for_good_on_errors_retrying_cannot_fix(
    video: Video, sent: list[int], monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    services.transcript_request(video_id=video.pk)

    def broken(video, settings):  # noqa: ANN001, ANN202
        raise error

    monkeypatch.setattr(job, "_transcript_of", broken)
    with pytest.raises(JobFailed) as raised:
        job.transcribe(video.pk)
    assert not jobs.retry_when(0, raised.value)  # nothing for Dramatiq to retry
    transcript = Transcript.objects.get(video=video)
    assert transcript.status == "failed" and transcript.error == str(error)
    assert transcript.lease_expires_at is None


def test_it_retries_transient_errors_until_attempts_run_out(
    video: Video, sent: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    services.transcript_request(video_id=video.pk)

    def flaky(video, settings):  # noqa: ANN001, ANN202
        raise ConnectionError("storage unreachable")

    monkeypatch.setattr(job, "_transcript_of", flaky)
    attempts = MAX_ATTEMPTS
    for attempt in range(1, attempts):
        with pytest.raises(ConnectionError) as raised:
            job.transcribe(video.pk)
        assert jobs.retry_when(attempt - 1, raised.value)  # Dramatiq redelivers it
        transcript = Transcript.objects.get(video=video)
        assert transcript.status == "pending" and f"attempt {attempt} failed" in transcript.error
    with pytest.raises(JobFailed):  # the last attempt: failed, readable reason, not retried
        job.transcribe(video.pk)
    transcript = Transcript.objects.get(video=video)
    assert transcript.status == "failed"
    assert "storage unreachable" in transcript.error and f"after {attempts} attempts" in transcript.error


def test_it_leaves_a_timed_out_job_retryable(video: Video, sent: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    services.transcript_request(video_id=video.pk)

    def slow(video, settings):  # noqa: ANN001, ANN202
        raise TimeLimitExceeded()  # Dramatiq's, as its TimeLimit middleware raises it in the worker thread

    monkeypatch.setattr(job, "_transcript_of", slow)
    with pytest.raises(TranscriptionTimedOut) as raised:
        job.transcribe(video.pk)
    assert isinstance(raised.value.__cause__, TimeLimitExceeded)
    assert jobs.retry_when(0, raised.value)
    transcript = Transcript.objects.get(video=video)
    assert transcript.status == "pending" and transcript.lease_expires_at is None
    assert "TRANSCRIBE_TIME_LIMIT" in transcript.error
    # Until the attempts run out: then failed, saying which limit and how often.
    for _ in range(2, MAX_ATTEMPTS):
        with pytest.raises(TranscriptionTimedOut):
            job.transcribe(video.pk)
    with pytest.raises(JobFailed):
        job.transcribe(video.pk)
    transcript = Transcript.objects.get(video=video)
    assert transcript.status == "failed"
    assert "TRANSCRIBE_TIME_LIMIT" in transcript.error and f"after {MAX_ATTEMPTS} attempts" in transcript.error


def test_it_waits_for_audio_that_is_not_stored_yet(video: Video, sent: list[int]) -> None:
    services.transcript_request(video_id=video.pk)
    with pytest.raises(SourceMissing):
        job.transcribe(video.pk)
    assert Transcript.objects.get(video=video).status == "pending"


def test_it_rejects_a_rerun_while_the_video_is_not_ready(sent: list[int]) -> None:
    from recordplus.core.errors import Conflict

    uploading = Video.objects.create(title="still uploading")
    with pytest.raises(Conflict):
        services.transcript_rerun(video=uploading)


def test_it_records_progress_while_running_and_one_when_done(video: Video, sent: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """The row's progress (what the library shows as "transcribing N%") moves forward while the
    engine reports, in steps (not one write per segment), and is 1 when done."""
    services.transcript_request(video_id=video.pk)
    seen: list[float] = []

    def engine_reporting(video: Video, settings: object) -> TranscriptResult:
        write = job.ProgressWriter(video.pk)
        for fraction in (0.001, 0.005, 0.3, 0.2, 0.6):  # 0.2: an engine never goes back, the row neither
            write(fraction)
            seen.append(Transcript.objects.get(video=video).progress)
        return _result()

    monkeypatch.setattr(job, "_transcript_of", engine_reporting)
    job.transcribe(video.pk)
    assert seen == [0.0, 0.0, 0.3, 0.3, 0.6]
    transcript = Transcript.objects.get(video=video)
    assert (transcript.status, transcript.progress) == ("done", 1.0)
    # Done is final: a late report changes nothing.
    services.transcript_set_progress(video_id=video.pk, fraction=0.5)
    assert Transcript.objects.get(video=video).progress == 1.0
