"""RabbitMQ restarted with work queued: durable queues and persistent messages survive it, the
API reconnects for new work, and every video is assembled exactly once.

Runs on a private RabbitMQ node (tests/faults/services.py), never the shared one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import RECORDPLUS, Stack, cluster_env, free_port, fresh_postgres_database
from tests.faults.services import private_rabbitmq
from tests.support import db_rows, make_webm, stored_original, upload

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def test_it_completes_queued_work_once_after_a_broker_restart(tmp_path: Path, moto_server: str) -> None:
    import boto3
    import uuid

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
