"""The API's and workers' one door to the message broker.

Messages only say "look at video N": the database is the source of truth. The API never
imports worker code; it sends messages by queue and actor name, which this module pins.
"""

from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq.common import dq_name
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Middleware

from recordplus.core.jobs import JobMetrics

logger = logging.getLogger(__name__)

QUEUE_ASSEMBLE = "assemble"
ACTOR_ASSEMBLE = "assemble_video"
QUEUE_TRANSCRIBE = "transcribe"
ACTOR_TRANSCRIBE = "transcribe_video"
# Live transcription (issue 11): decode new chunks on the assembler queue, transcribe each
# closed window on the transcriber queue.
ACTOR_LIVE_DECODE = "live_decode"
ACTOR_LIVE_WINDOW = "live_transcribe_window"
# The open window's provisional caption (best effort, never retried), on the transcriber queue.
ACTOR_LIVE_PROVISIONAL = "live_transcribe_provisional"
QUEUES = (QUEUE_ASSEMBLE, QUEUE_TRANSCRIBE)

_lock = threading.Lock()
_broker: dramatiq.Broker | None = None


class DjangoConnections(Middleware):
    """Close stale database connections around each message, as Django does around requests."""

    def _close(self) -> None:
        from django.db import close_old_connections

        close_old_connections()

    def before_process_message(self, broker, message):  # noqa: ANN001 - dramatiq's signature
        self._close()

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        self._close()

    after_skip_message = after_process_message


def get_broker() -> dramatiq.Broker:
    """The process's broker, built once from BROKER_URL and installed as Dramatiq's global."""
    global _broker
    with _lock:
        if _broker is None:
            from django.conf import settings

            url = settings.BROKER_URL
            if url.startswith("memory://"):
                broker: dramatiq.Broker = StubBroker()
                broker.emit_after("process_boot")
            else:
                from dramatiq.brokers.rabbitmq import RabbitmqBroker

                broker = RabbitmqBroker(url=url, confirm_delivery=True)
            broker.add_middleware(DjangoConnections())
            broker.add_middleware(CurrentMessage())
            broker.add_middleware(JobMetrics())
            for queue in QUEUES:
                broker.declare_queue(queue)
            dramatiq.set_broker(broker)
            _broker = broker
        return _broker


def send(queue: str, actor: str, video_id: int, *args: int, delay_seconds: float | None = None) -> None:
    """Enqueue `actor(video_id, *args)` on `queue`, optionally after a delay."""
    message = dramatiq.Message(queue_name=queue, actor_name=actor, args=(video_id, *args), kwargs={}, options={})
    delay = int(delay_seconds * 1000) if delay_seconds else None
    get_broker().enqueue(message, delay=delay)
    called = ", ".join(str(arg) for arg in (video_id, *args))
    logger.info("enqueued %s(%s) on %s%s", actor, called, queue, f" in {delay} ms" if delay else "")


def send_assemble(video_id: int, *, delay_seconds: float | None = None) -> None:
    send(QUEUE_ASSEMBLE, ACTOR_ASSEMBLE, video_id, delay_seconds=delay_seconds)


def send_transcribe(video_id: int, *, delay_seconds: float | None = None) -> None:
    send(QUEUE_TRANSCRIBE, ACTOR_TRANSCRIBE, video_id, delay_seconds=delay_seconds)


def send_live_decode(video_id: int, *, delay_seconds: float | None = None) -> None:
    """Decode the audio of video `video_id`'s newly received chunks (a no-op when it is not live)."""
    send(QUEUE_ASSEMBLE, ACTOR_LIVE_DECODE, video_id, delay_seconds=delay_seconds)


def send_live_window(video_id: int, index: int, *, delay_seconds: float | None = None) -> None:
    """Transcribe live window `index` of video `video_id`."""
    send(QUEUE_TRANSCRIBE, ACTOR_LIVE_WINDOW, video_id, index, delay_seconds=delay_seconds)


def send_live_provisional(video_id: int, mark: int) -> None:
    """Draft the provisional caption of video `video_id`'s open window (`mark`: the decoded
    samples when it was requested; a newer request supersedes it)."""
    send(QUEUE_TRANSCRIBE, ACTOR_LIVE_PROVISIONAL, video_id, mark)


def queue_depths() -> dict[str, int]:
    """Messages waiting (ready, not yet delivered) per queue, as the broker reports them."""
    broker = get_broker()
    depths: dict[str, int] = {}
    if isinstance(broker, StubBroker):
        for queue in QUEUES:
            depths[queue] = broker.queues[queue].qsize() + broker.queues[dq_name(queue)].qsize()
        return depths
    for queue in QUEUES:
        ready, delayed, _dead = broker.get_queue_message_counts(queue)
        depths[queue] = int(ready) + int(delayed)
    return depths


def ping() -> None:
    """Raise if the broker cannot be reached."""
    broker = get_broker()
    if isinstance(broker, StubBroker):
        return
    broker.get_queue_message_counts(QUEUE_ASSEMBLE)
