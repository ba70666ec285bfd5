"""The one retry rule of both workers, and the job metrics every actor reports.

A job's attempts are counted on its database row, bumped when a worker claims it, so a worker
that dies mid-job (OOM, kill -9, a lost node) still uses up an attempt and a poison message
cannot be redelivered forever. When a job raises, `run_attempt` decides once, for every
worker:

- a permanent error (the upload's or the configuration's fault: `RecordPlusError.permanent`,
  or any deterministic failure such as a parse error or a bad seek) fails the job at once with
  its reason;
- a transient error (storage, broker or database unreachable, a time limit, a missing binary)
  releases the job and re-raises it for Dramatiq's Retries middleware to redeliver with
  backoff, until the attempts on the row run out; then the job fails with the last reason.

A failure that was recorded is raised as `JobFailed`, which the actors declare in `throws`, so
Dramatiq never retries it. `JobMetrics` counts started / finished-by-outcome / running jobs
for every actor in one place.
"""

from __future__ import annotations

import errno
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import dramatiq
from dramatiq.middleware import Middleware, Shutdown, TimeLimitExceeded

from recordplus.core import metrics
from recordplus.core.errors import JobFailed, RecordPlusError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Dramatiq only redelivers; the attempts that count are on the row. This is a backstop far
# above any *_MAX_ATTEMPTS setting, so Dramatiq never gives up before the row does.
REDELIVERY_BACKSTOP = 1000

# OSErrors that say the machine or a network peer is in trouble, not the input.
_TRANSIENT_ERRNOS = {
    errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EMFILE, errno.ENFILE, errno.ENOMEM,
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH,
}  # fmt: skip


@dataclass(frozen=True)
class Failure:
    """How one exception is treated: retried or not, its metrics label and what users read."""

    permanent: bool
    reason: str
    message: str


def _infrastructure(exc: BaseException) -> bool:
    """Database, storage or broker trouble: the job may work when they are back."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return True
    if isinstance(exc, dramatiq.errors.BrokerConnectionError):
        return True
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - every image has boto3
        return False
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return status >= 500 or status == 429 or code in {"SlowDown", "RequestTimeout", "InternalError"}
    return isinstance(exc, BotoCoreError)


def classify(exc: BaseException) -> Failure:
    """Decide whether `exc` is worth retrying, and how to name it."""
    if isinstance(exc, RecordPlusError):
        return Failure(exc.permanent, exc.reason, exc.message)
    if isinstance(exc, TimeLimitExceeded):
        return Failure(False, "time_limit", "the job took longer than its time limit")
    if isinstance(exc, Shutdown):
        return Failure(False, "shutdown", "the worker was stopped during the job")
    if _infrastructure(exc):
        return Failure(False, "unavailable", f"a service the job needs failed: {type(exc).__name__}: {exc}"[:500])
    # Anything else is a deterministic failure of this input (a parse error, a bad seek…):
    # the same job would fail the same way again.
    return Failure(True, "error", f"processing failed: {type(exc).__name__}: {exc}"[:500])


def run_attempt(
    work: Callable[[], T],
    *,
    stage: str,
    attempt: int,
    max_attempts: int,
    fail: Callable[[str], None],
    release: Callable[[str], None] | None = None,
) -> T:
    """Run one claimed attempt of a job under the retry rule (see the module docstring).

    `fail(message)` records a final failure on the row; `release(message)` gives a transient
    failure back for a retry. Returns what `work` returns.
    """
    try:
        return work()
    except BaseException as exc:
        failure = classify(exc)
        stopping = isinstance(exc, (Shutdown, KeyboardInterrupt, SystemExit))
        if not stopping and (failure.permanent or attempt >= max_attempts):
            message = failure.message if failure.permanent else f"{failure.message} (gave up after {attempt} attempts)"
            logger.warning("%s job failed for good: %s", stage, message, exc_info=not isinstance(exc, RecordPlusError))
            fail(message)
            metrics.PIPELINE_FAILURES.labels(stage, failure.reason).inc()
            raise JobFailed(message) from exc
        logger.warning("%s job will be retried (attempt %s of %s): %s", stage, attempt, max_attempts, failure.message)
        if release is not None:
            release(failure.message)
        raise


def give_up_at_claim(attempt: int, max_attempts: int) -> str | None:
    """The failure message when a job is claimed once more than allowed (each earlier attempt
    ended without a result: the worker died), else None."""
    if attempt <= max_attempts:
        return None
    return (
        f"gave up after {max_attempts} attempts: the worker stopped during processing each time "
        "(out of memory or killed); the recording may be too large or malformed"
    )


@contextmanager
def heartbeat(renew: Callable[[], bool], *, every: float) -> Iterator[None]:
    """Call `renew()` every `every` seconds in a background thread while the block runs (a
    job's lease stays alive exactly as long as its worker does). Stops early when `renew`
    returns False (the job lost its claim); a failed renewal is logged and tried again."""
    stop = threading.Event()

    def beat() -> None:
        from django.db import connection

        try:
            while not stop.wait(every):
                try:
                    if not renew():
                        return
                except Exception:
                    logger.warning("could not renew a job's lease; trying again", exc_info=True)
        finally:
            connection.close()  # this thread's own database connection

    thread = threading.Thread(target=beat, name="job-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def retry_when(retries: int, exception: BaseException) -> bool:
    """Dramatiq's redelivery predicate for every actor: redeliver unless the job said it is
    over (the attempts that count are on the row; see REDELIVERY_BACKSTOP)."""
    return not isinstance(exception, JobFailed) and retries < REDELIVERY_BACKSTOP


ACTOR_OPTIONS = {"retry_when": retry_when, "throws": (JobFailed,)}


class JobMetrics(Middleware):
    """recordplus_jobs_started_total, _finished_total{outcome} and _running for every actor."""

    def before_process_message(self, broker, message):  # noqa: ANN001 - dramatiq's signature
        metrics.JOBS_STARTED.labels(message.queue_name).inc()
        metrics.JOBS_RUNNING.labels(message.queue_name).inc()

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        metrics.JOBS_RUNNING.labels(message.queue_name).dec()
        metrics.JOBS_FINISHED.labels(message.queue_name, outcome(exception)).inc()

    def after_skip_message(self, broker, message):  # noqa: ANN001
        pass


def outcome(exception: BaseException | None) -> str:
    """The `outcome` label of recordplus_jobs_finished_total for a message's result."""
    if exception is None:
        return "done"
    if isinstance(exception, JobFailed):
        return "failed"
    if isinstance(exception, dramatiq.Retry):
        return "deferred"
    return "retry"
