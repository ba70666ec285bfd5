"""RabbitMQ restarted with work queued: durable queues and persistent messages survive it, the
API reconnects for new work, and every video is assembled exactly once.

Runs on a private RabbitMQ node (tests/faults/services.py), never the shared one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import (
    RECORDPLUS,
    Stack,
    cluster_env,
    free_port,
    fresh_postgres_database,
)
from tests.faults.services import private_rabbitmq
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


def test_it_completes_an_in_flight_assembly_once_after_a_broker_restart(tmp_path: Path, moto_server: str) -> None:
    """The broker restarts while a worker is in the middle of an assembly. The job carries on
    (it needs PostgreSQL and S3, not RabbitMQ); its message, unacked until the job ends (late
    acks), is requeued by RabbitMQ when the connection drops and kept across the restart
    (durable queue, persistent message); redelivered, its claim finds the video `ready` (or the
    lease still held) and does nothing. So the video is assembled exactly once: assembly_attempts
    is 1 — a second attempt would mean the message was run twice, none that it was lost."""
    import subprocess
    import uuid

    import boto3

    from tests.assembler.test_crash_recovery import wait_until_mid_assembly
    from tests.faults.services import wait_until

    webm = make_webm(tmp_path / "long.webm", seconds=30, size="1280x720", bitrate="1500k").read_bytes()
    later_webm = make_webm(tmp_path / "later.webm", seconds=2).read_bytes()
    with private_rabbitmq() as rabbit, fresh_postgres_database() as database_url:
        bucket = f"recordplus-{uuid.uuid4().hex[:8]}"
        env = cluster_env(database_url, rabbit.url, moto_server, bucket) | {"WORKER_METRICS_PORT": str(free_port())}
        s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        stack = Stack(mode="cluster", env=env, workdir=tmp_path / "stack", s3=s3, bucket=bucket)
        try:
            stack.run("migrate")
            stack.add("worker", [RECORDPLUS, "worker", "--queues", "assemble"])
            stack.start_server()
            video_id = upload(stack, webm, chunk_sizes=[100_000] * (len(webm) // 100_000))
            wait_until_mid_assembly(stack, video_id)  # caught in progress: claimed, 0 < progress < 1

            rabbit.stop()
            rabbit.start()

            video = stack.wait_for(video_id, timeout=300)
            assert video["status"] == "ready", video
            assert stored_original(stack, video) == webm
            # The worker's consumer reconnected: new work sent after the restart is done too.
            later = upload(stack, later_webm, chunk_sizes=[len(later_webm) // 2])
            assert stack.wait_for(later, timeout=180)["status"] == "ready"
            attempts = db_rows(stack, "SELECT id, assembly_attempts FROM videos_video ORDER BY id")
            assert attempts == [(video_id, 1), (later, 1)], attempts  # the in-flight one ran once
            # Nothing left behind in the broker: the redelivered message was acked, not left
            # waiting, delayed or dead-lettered. (Nothing consumes `transcribe` here: the
            # transcription messages the two assemblies sent wait there, as they should.)
            listed: dict[str, str] = {}

            def assemble_queues_empty() -> bool:
                out = subprocess.run(
                    ["rabbitmqctl", "-n", rabbit.name, "list_queues", "-q", "name", "messages"],
                    env=rabbit.env(), capture_output=True, text=True, timeout=60, check=False,
                ).stdout  # fmt: skip
                listed.clear()
                listed.update(line.split()[:2] for line in out.splitlines() if len(line.split()) == 2)
                assembly = {name: count for name, count in listed.items() if name.startswith("assemble")}
                return bool(assembly) and set(assembly.values()) == {"0"}

            try:
                wait_until(assemble_queues_empty, 60, "RabbitMQ's assemble queues emptying after the redelivery")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; queues: {listed}") from None
            stack.assert_alive()
        finally:
            stack.stop()
