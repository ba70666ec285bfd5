"""The one retry rule of both workers (recordplus.core.jobs): which failures are permanent,
what one attempt does with each, the give-up at claim time, Dramatiq's redelivery predicate and
the job metrics, in-process (a StubBroker where Dramatiq itself has to take part)."""

from __future__ import annotations

import errno
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from django.db import InterfaceError, OperationalError
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Shutdown, TimeLimitExceeded
from prometheus_client import REGISTRY

from recordplus.core import jobs
from recordplus.core.errors import BadRequest, JobFailed, MediaRejected, RecordPlusError, ServiceUnavailable
from recordplus.core.ffmpeg import FFmpegError, FFmpegNotFound


def client_error(status: int, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "from S3"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def stage() -> str:
    """A stage label of this test's own, so counters start at zero."""
    return f"test-{uuid.uuid4().hex[:8]}"


class Recorder:
    """Stands in for the row: records fail(message) and release(message) calls."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.released: list[str] = []

    def fail(self, message: str) -> None:
        self.failed.append(message)

    def release(self, message: str) -> None:
        self.released.append(message)


def raising(exc: BaseException) -> Callable[[], Any]:
    def work() -> Any:
        raise exc

    return work


# --- classify -------------------------------------------------------------------------------


class SlowJob(TimeLimitExceeded):
    """A time limit under another name: recognised by type, not by a class-name string."""


@pytest.mark.parametrize(
    ("exc", "permanent", "reason"),
    [
        (BadRequest("bad input"), True, "error"),
        (MediaRejected("not a video"), True, "rejected"),
        (JobFailed("recorded"), True, "failed"),
        (ServiceUnavailable("storage down"), False, "unavailable"),
        (FFmpegError("ffmpeg failed", argv=["ffmpeg"], returncode=1, stderr_tail=""), True, "ffmpeg"),
        (FFmpegNotFound("no ffmpeg", argv=["ffmpeg"], returncode=None, stderr_tail=""), False, "ffmpeg_missing"),
        (TimeLimitExceeded(), False, "time_limit"),
        (SlowJob(), False, "time_limit"),
        (Shutdown(), False, "shutdown"),
        (OperationalError("could not connect to server"), False, "unavailable"),
        (InterfaceError("connection already closed"), False, "unavailable"),
        (client_error(500, "InternalError"), False, "unavailable"),
        (client_error(503, "SlowDown"), False, "unavailable"),
        (client_error(429, "TooManyRequests"), False, "unavailable"),
        (client_error(0, "RequestTimeout"), False, "unavailable"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), False, "unavailable"),
        (client_error(403, "AccessDenied"), True, "error"),
        (client_error(404, "NoSuchKey"), True, "error"),
        (client_error(400, "InvalidRange"), True, "error"),
        (OSError(errno.EINVAL, "Invalid argument"), True, "error"),
        (OSError(errno.ENOSPC, "No space left on device"), False, "unavailable"),
        (OSError(errno.EIO, "Input/output error"), False, "unavailable"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), False, "unavailable"),
        (TimeoutError("timed out"), False, "unavailable"),
        (dramatiq.errors.BrokerConnectionError("broker gone"), False, "unavailable"),
        (ValueError("bad seek"), True, "error"),
        (KeyError("duration"), True, "error"),
    ],
    ids=lambda v: v if isinstance(v, (bool, str)) else type(v).__name__,
)
def test_it_classifies_failures(exc: BaseException, permanent: bool, reason: str) -> None:
    failure = jobs.classify(exc)
    assert failure.permanent is permanent
    assert failure.reason == reason


def test_it_keeps_the_message_of_our_own_errors() -> None:
    assert jobs.classify(MediaRejected("the upload has no video stream")).message == "the upload has no video stream"


def test_it_names_other_failures_in_the_message() -> None:
    assert jobs.classify(ValueError("bad seek")).message == "processing failed: ValueError: bad seek"
    assert jobs.classify(OperationalError("db down")).message == "a service the job needs failed: OperationalError: db down"
    assert jobs.classify(TimeLimitExceeded()).message == "the job took longer than its time limit"


def test_it_bounds_the_message() -> None:
    assert len(jobs.classify(ValueError("x" * 10_000)).message) == 500
    assert len(jobs.classify(OperationalError("x" * 10_000)).message) == 500


# --- run_attempt ----------------------------------------------------------------------------


def test_it_returns_what_the_work_returns() -> None:
    row = Recorder()
    assert jobs.run_attempt(lambda: 42, stage=stage(), attempt=1, max_attempts=3, fail=row.fail, release=row.release) == 42
    assert row.failed == row.released == []


def test_it_fails_a_permanent_error_at_once() -> None:
    row, name = Recorder(), stage()
    cause = MediaRejected("the upload is not a video")
    with pytest.raises(JobFailed) as caught:
        jobs.run_attempt(raising(cause), stage=name, attempt=1, max_attempts=5, fail=row.fail, release=row.release)
    assert row.failed == ["the upload is not a video"]
    assert row.released == []
    assert caught.value.message == "the upload is not a video"
    assert caught.value.__cause__ is cause
    assert sample("recordplus_pipeline_failures_total", stage=name, reason="rejected") == 1
    assert sample("recordplus_pipeline_failures_total", stage=name, reason="error") == 0


def test_it_fails_a_deterministic_failure_with_its_reason_label() -> None:
    row, name = Recorder(), stage()
    with pytest.raises(JobFailed):
        jobs.run_attempt(raising(ValueError("bad seek")), stage=name, attempt=1, max_attempts=5, fail=row.fail)
    assert row.failed == ["processing failed: ValueError: bad seek"]
    assert sample("recordplus_pipeline_failures_total", stage=name, reason="error") == 1


def test_it_releases_and_reraises_a_transient_error_below_the_limit() -> None:
    row, name = Recorder(), stage()
    cause = OperationalError("db down")
    with pytest.raises(OperationalError) as caught:
        jobs.run_attempt(raising(cause), stage=name, attempt=2, max_attempts=3, fail=row.fail, release=row.release)
    assert caught.value is cause  # the original, for Dramatiq's Retries to redeliver
    assert row.released == ["a service the job needs failed: OperationalError: db down"]
    assert row.failed == []
    assert sample("recordplus_pipeline_failures_total", stage=name, reason="unavailable") == 0


def test_it_reraises_a_transient_error_without_a_release() -> None:
    row = Recorder()
    cause = ServiceUnavailable("storage down")
    with pytest.raises(ServiceUnavailable) as caught:
        jobs.run_attempt(raising(cause), stage=stage(), attempt=1, max_attempts=3, fail=row.fail)
    assert caught.value is cause
    assert row.failed == []


@pytest.mark.parametrize("attempt", [3, 4])
def test_it_gives_up_on_a_transient_error_at_the_limit(attempt: int) -> None:
    row, name = Recorder(), stage()
    with pytest.raises(JobFailed) as caught:
        jobs.run_attempt(
            raising(OperationalError("db down")), stage=name, attempt=attempt, max_attempts=3, fail=row.fail, release=row.release
        )
    expected = f"a service the job needs failed: OperationalError: db down (gave up after {attempt} attempts)"
    assert row.failed == [expected]
    assert caught.value.message == expected
    assert row.released == []
    assert sample("recordplus_pipeline_failures_total", stage=name, reason="unavailable") == 1


def test_it_gives_up_on_a_time_limit_at_the_limit() -> None:
    row, name = Recorder(), stage()
    with pytest.raises(JobFailed):
        jobs.run_attempt(raising(TimeLimitExceeded()), stage=name, attempt=2, max_attempts=2, fail=row.fail)
    assert row.failed == ["the job took longer than its time limit (gave up after 2 attempts)"]
    assert sample("recordplus_pipeline_failures_total", stage=name, reason="time_limit") == 1


@pytest.mark.parametrize("exc", [Shutdown(), KeyboardInterrupt(), SystemExit(0)], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("attempt", [1, 3, 9])
def test_it_never_fails_a_job_because_the_worker_stops(exc: BaseException, attempt: int) -> None:
    row, name = Recorder(), stage()
    with pytest.raises(type(exc)) as caught:
        jobs.run_attempt(raising(exc), stage=name, attempt=attempt, max_attempts=3, fail=row.fail, release=row.release)
    assert caught.value is exc
    assert row.failed == []
    assert len(row.released) == 1  # given back, for another worker to pick up
    for reason in ("shutdown", "error", "unavailable"):
        assert sample("recordplus_pipeline_failures_total", stage=name, reason=reason) == 0


# --- give_up_at_claim -----------------------------------------------------------------------


@pytest.mark.parametrize(("attempt", "max_attempts"), [(1, 3), (3, 3), (1, 1)])
def test_it_lets_a_claim_within_the_limit_run(attempt: int, max_attempts: int) -> None:
    assert jobs.give_up_at_claim(attempt, max_attempts) is None


@pytest.mark.parametrize(("attempt", "max_attempts"), [(4, 3), (10, 3), (2, 1)])
def test_it_gives_up_at_a_claim_past_the_limit(attempt: int, max_attempts: int) -> None:
    message = jobs.give_up_at_claim(attempt, max_attempts)
    assert message is not None
    assert message.startswith(f"gave up after {max_attempts} attempts: the worker stopped during processing each time")


# --- retry_when -----------------------------------------------------------------------------


def test_it_never_redelivers_a_recorded_failure() -> None:
    assert jobs.retry_when(0, JobFailed("done for")) is False


@pytest.mark.parametrize("exc", [OperationalError("x"), ValueError("x"), dramatiq.Retry(delay=10), TimeLimitExceeded()])
def test_it_redelivers_anything_else_up_to_the_backstop(exc: BaseException) -> None:
    assert jobs.retry_when(0, exc) is True
    assert jobs.retry_when(jobs.REDELIVERY_BACKSTOP - 1, exc) is True
    assert jobs.retry_when(jobs.REDELIVERY_BACKSTOP, exc) is False


def test_it_shares_one_set_of_actor_options() -> None:
    assert jobs.ACTOR_OPTIONS == {"retry_when": jobs.retry_when, "throws": (JobFailed,)}
    assert jobs.REDELIVERY_BACKSTOP > 100  # far above any *_MAX_ATTEMPTS


# --- JobMetrics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exception", "label"),
    [
        (None, "done"),
        (JobFailed("recorded"), "failed"),
        (dramatiq.Retry(delay=1000), "deferred"),
        (OperationalError("db down"), "retry"),
        (ValueError("x"), "retry"),
        (TimeLimitExceeded(), "retry"),
    ],
    ids=["done", "failed", "deferred", "transient", "other", "time-limit"],
)
def test_it_labels_outcomes(exception: BaseException | None, label: str) -> None:
    assert jobs.outcome(exception) == label


def test_it_counts_started_running_and_finished_jobs() -> None:
    queue = stage()
    middleware = jobs.JobMetrics()
    message = dramatiq.Message(queue_name=queue, actor_name="a", args=(1,), kwargs={}, options={})
    middleware.before_process_message(None, message)
    assert sample("recordplus_jobs_started_total", queue=queue) == 1
    assert sample("recordplus_jobs_running", queue=queue) == 1
    middleware.after_process_message(None, message, exception=OperationalError("x"))
    middleware.before_process_message(None, message)
    middleware.after_process_message(None, message, result=None)
    assert sample("recordplus_jobs_started_total", queue=queue) == 2
    assert sample("recordplus_jobs_running", queue=queue) == 0
    assert sample("recordplus_jobs_finished_total", queue=queue, outcome="retry") == 1
    assert sample("recordplus_jobs_finished_total", queue=queue, outcome="done") == 1


# --- with Dramatiq itself -------------------------------------------------------------------


@pytest.fixture
def broker() -> Any:
    broker = StubBroker()
    broker.add_middleware(jobs.JobMetrics())
    broker.emit_after("process_boot")
    yield broker
    broker.flush_all()
    broker.close()


def run(broker: StubBroker, queue: str) -> None:
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=10)
    worker.start()
    try:
        broker.join(queue, fail_fast=False, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def test_it_is_redelivered_by_dramatiq_until_it_succeeds(broker: StubBroker) -> None:
    queue, calls = stage(), []

    @dramatiq.actor(broker=broker, queue_name=queue, actor_name=f"{queue}-flaky", min_backoff=1, max_backoff=5, **jobs.ACTOR_OPTIONS)
    def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("db down")

    flaky.send()
    run(broker, queue)
    assert len(calls) == 3
    assert sample("recordplus_jobs_finished_total", queue=queue, outcome="retry") == 2
    assert sample("recordplus_jobs_finished_total", queue=queue, outcome="done") == 1
    assert broker.dead_letters == []


def test_it_is_not_redelivered_by_dramatiq_once_failed(broker: StubBroker) -> None:
    queue, calls = stage(), []

    @dramatiq.actor(broker=broker, queue_name=queue, actor_name=f"{queue}-doomed", min_backoff=1, max_backoff=5, **jobs.ACTOR_OPTIONS)
    def doomed() -> None:
        calls.append(1)
        jobs.run_attempt(raising(MediaRejected("not a video")), stage=queue, attempt=1, max_attempts=5, fail=lambda m: None)

    doomed.send()
    run(broker, queue)
    assert len(calls) == 1
    assert sample("recordplus_jobs_finished_total", queue=queue, outcome="failed") == 1
    assert len(broker.dead_letters) == 1


def test_it_redelivers_a_deferred_job(broker: StubBroker) -> None:
    queue, calls = stage(), []

    @dramatiq.actor(broker=broker, queue_name=queue, actor_name=f"{queue}-waits", min_backoff=1, max_backoff=5, **jobs.ACTOR_OPTIONS)
    def waits() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise dramatiq.Retry(delay=1)  # "not yet": the settle window is still open

    waits.send()
    run(broker, queue)
    assert len(calls) == 2
    assert sample("recordplus_jobs_finished_total", queue=queue, outcome="deferred") == 1
    assert sample("recordplus_jobs_finished_total", queue=queue, outcome="done") == 1


def test_it_is_a_recordplus_error_for_the_api_too() -> None:
    assert issubclass(JobFailed, RecordPlusError)
