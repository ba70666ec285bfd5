"""RabbitMQ restarted with work queued and with work in flight: durable queues, persistent
messages and late acks survive it, the API and the worker reconnect, and every video is
assembled exactly once (or, when the worker holding it died meanwhile, once more by another).

Runs on a private RabbitMQ node (tests/faults/services.py), never the shared one.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest

from tests.conftest import (
    RECORDPLUS,
    Stack,
    cluster_env,
    free_port,
    fresh_postgres_database,
)
from tests.faults.services import PrivateRabbitMQ, private_rabbitmq, wait_until
from tests.support import db_rows, make_webm, stored_original, upload

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def test_it_completes_queued_work_once_after_a_broker_restart(tmp_path: Path, moto_server: str) -> None:
    import uuid

    import boto3

    recordings = [make_webm(tmp_path / f"r{i}.webm", seconds=2 + i).read_bytes() for i in range(3)]
    with private_rabbitmq() as rabbit, fresh_postgres_database() as database_url:
        bucket = f"recordplus-{uuid.uuid4().hex[:8]}"
        env = cluster_env(database_url, rabbit.url, moto_server, bucket) | {"WORKER_METRICS_PORT": str(free_port())}
        s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        stack = Stack(mode="cluster", env=env, workdir=tmp_path / "stack", s3=s3, bucket=bucket)
        try:
            stack.run("migrate")
            stack.start_server()  # no worker yet: the messages wait in RabbitMQ
            queued = [upload(stack, data, chunk_sizes=[len(data) // 2]) for data in recordings[:2]]

            rabbit.stop()
            rabbit.start()  # same data directory: durable queues, persistent messages

            # The API reconnects for new work (a send after the restart)...
            later = upload(stack, recordings[2], chunk_sizes=[len(recordings[2]) // 3])
            # ...and a worker started now finds everything that was queued before.
            stack.add("worker", [RECORDPLUS, "worker", "--queues", "assemble"])
            for video_id, data in zip([*queued, later], recordings, strict=True):
                video = stack.wait_for(video_id, timeout=180)
                assert video["status"] == "ready", video
                assert stored_original(stack, video) == data
            attempts = db_rows(stack, "SELECT id, assembly_attempts FROM videos_video ORDER BY id")
            assert attempts == [(video_id, 1) for video_id in [*queued, later]], attempts  # each assembled once
        finally:
            stack.stop()



# A worker whose assembly, once claimed (lease taken, heartbeat running), waits for a file the
# test creates before it does anything: the job is surely in flight for as long as the test
# wants. The launcher patches the pipeline before the worker starts; nothing in the product
# knows about it.
HOLDING_WORKER = '''
import os
import sys
import time
from pathlib import Path

from recordplus import cli

_start_worker = cli._start_worker


def start_holding_worker(queues, threads):
    from recordplus.assembler import pipeline

    assemble = pipeline._assemble

    def held(video):
        Path(os.environ["HELD_FILE"]).write_text(str(video.pk))
        while not Path(os.environ["RELEASE_FILE"]).exists():
            time.sleep(0.05)
        return assemble(video)

    pipeline._assemble = held
    return _start_worker(queues, threads)


cli._start_worker = start_holding_worker
sys.exit(cli.main())
'''


@contextmanager
def held_assembly_stack(tmp_path: Path, moto_server: str, rabbit: PrivateRabbitMQ, database_url: str) -> Iterator[Stack]:
    """A cluster stack on `rabbit` whose worker holds each assembly until RELEASE_FILE exists."""
    launcher = tmp_path / "holding_worker.py"
    launcher.write_text(HOLDING_WORKER)
    bucket = f"recordplus-{uuid.uuid4().hex[:8]}"
    env = cluster_env(database_url, rabbit.url, moto_server, bucket)
    env |= {"WORKER_METRICS_PORT": str(free_port()), "HELD_FILE": str(tmp_path / "held"), "RELEASE_FILE": str(tmp_path / "release")}
    env |= {"ASSEMBLE_LEASE_SECONDS": "3"}  # a dead worker's lease runs out soon (renewed while alive)
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    stack = Stack(mode="cluster", env=env, workdir=tmp_path / "stack", s3=s3, bucket=bucket)
    try:
        stack.run("migrate")
        stack.add("worker", [sys.executable, str(launcher), "worker", "--queues", "assemble"])
        stack.start_server()
        yield stack
    finally:
        stack.stop()


def assemble_queues(rabbit: PrivateRabbitMQ) -> dict[str, str]:
    """Message counts of the assemble queues (and their delay and dead-letter queues)."""
    out = subprocess.run(
        ["rabbitmqctl", "-n", rabbit.name, "list_queues", "-q", "name", "messages"],
        env=rabbit.env(), capture_output=True, text=True, timeout=60, check=False,
    ).stdout  # fmt: skip
    rows = (line.split() for line in out.splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2 and row[0].startswith("assemble")}


def wait_assemble_queues_empty(rabbit: PrivateRabbitMQ) -> None:
    last: dict[str, str] = {}

    def empty() -> bool:
        last.clear()
        last.update(assemble_queues(rabbit))
        return bool(last) and set(last.values()) == {"0"}

    try:
        wait_until(empty, 60, "RabbitMQ's assemble queues emptying")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; queues: {last}") from None


def test_it_completes_an_in_flight_assembly_once_after_a_broker_restart(tmp_path: Path, moto_server: str) -> None:
    """The broker restarts while a worker holds a claimed assembly. The job carries on (it needs
    PostgreSQL and S3, not RabbitMQ); its message, unacked until the job ends (late acks), is
    requeued when the connection drops and kept across the restart; redelivered to the
    reconnected worker, its claim finds the lease held or the video `ready` and does nothing.
    So the video is assembled exactly once: assembly_attempts 1 (2 would be a second run of
    the same message), and no assemble message is left waiting, delayed or dead-lettered.
    (Nothing consumes `transcribe` here: the transcription messages wait there, as they should.)"""
    webm = make_webm(tmp_path / "held.webm", seconds=3).read_bytes()
    later_webm = make_webm(tmp_path / "later.webm", seconds=2).read_bytes()
    with (
        private_rabbitmq() as rabbit,
        fresh_postgres_database() as database_url,
        held_assembly_stack(tmp_path, moto_server, rabbit, database_url) as stack,
    ):
        video_id = upload(stack, webm, chunk_sizes=[len(webm) // 3] * 2)
        wait_until(lambda: (tmp_path / "held").exists(), 120, "the worker claiming the assembly")

        rabbit.stop()
        rabbit.start()
        (tmp_path / "release").touch()  # the job, in flight all along, may finish now

        video = stack.wait_for(video_id, timeout=240)
        assert video["status"] == "ready", video
        assert stored_original(stack, video) == webm
        # The worker's consumer reconnected: work sent after the restart is done too.
        later = upload(stack, later_webm, chunk_sizes=[len(later_webm) // 2])
        assert stack.wait_for(later, timeout=180)["status"] == "ready"
        assert stored_original(stack, stack.wait_for(later)) == later_webm
        attempts = db_rows(stack, "SELECT id, assembly_attempts FROM videos_video ORDER BY id")
        assert attempts == [(video_id, 1), (later, 1)], attempts
        wait_assemble_queues_empty(rabbit)
        stack.assert_alive()


def test_an_in_flight_message_survives_the_broker_restart_and_its_worker(tmp_path: Path, moto_server: str) -> None:
    """The harder case: while the broker is down, the worker holding the job is killed -9, so
    the only copy of the work left is the unacked message RabbitMQ stored (persistent message,
    durable queue, acked only after the job). A new worker after the restart gets it, waits out
    the dead run's lease and assembles the video: ready, byte-exact, assembly_attempts 2 (the
    killed run, then the one that finished). An early ack, a transient message or queue, or a
    claim that never lets a dead run's lease lapse leaves the video `assembling` for good."""
    webm = make_webm(tmp_path / "held.webm", seconds=3).read_bytes()
    with (
        private_rabbitmq() as rabbit,
        fresh_postgres_database() as database_url,
        held_assembly_stack(tmp_path, moto_server, rabbit, database_url) as stack,
    ):
        video_id = upload(stack, webm, chunk_sizes=[len(webm) // 3] * 2)
        wait_until(lambda: (tmp_path / "held").exists(), 120, "the worker claiming the assembly")

        rabbit.stop()
        worker = next(p for p in stack.processes if p.name == "worker")
        worker.stop(signal.SIGKILL)
        stack.processes.remove(worker)
        rabbit.start()
        (tmp_path / "release").touch()
        stack.add("worker-2", [RECORDPLUS, "worker", "--queues", "assemble"])

        video = stack.wait_for(video_id, timeout=240)
        assert video["status"] == "ready", video
        assert stored_original(stack, video) == webm
        assert db_rows(stack, "SELECT assembly_attempts FROM videos_video WHERE id = %s", (video_id,)) == [(2,)]
        wait_assemble_queues_empty(rabbit)
        stack.assert_alive()
