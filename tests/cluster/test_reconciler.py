"""The cluster reconciler recovers a video whose RabbitMQ message was lost.

Kills the mutant "the cluster reconciler is never run in a test": on PostgreSQL + RabbitMQ +
moto's S3, a finalized video's assemble message is dropped (its queues purged before any worker
consumed it), so the video sits `assembling` with nothing in the broker. `recordplus reconcile`
must find it in the database and re-enqueue it; a worker then makes it `ready`, byte-exact.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import (
    RECORDPLUS,
    Stack,
    cluster_env,
    free_port,
    fresh_postgres_database,
    fresh_rabbitmq_vhost,
    rabbitmqctl,
    require,
)
from tests.support import db_rows, make_webm, stored_original, upload

pytestmark = pytest.mark.cluster


def queue_lengths(vhost: str) -> dict[str, int]:
    listed = subprocess.run(
        [str(rabbitmqctl()), "list_queues", "-p", vhost, "--quiet", "--no-table-headers", "name", "messages"],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    lengths = {}
    for line in listed.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            lengths[parts[0]] = int(parts[1])
    return lengths


def test_it_reassembles_a_video_whose_message_was_lost(tmp_path: Path, moto_server: str) -> None:
    require(rabbitmqctl() is not None, "rabbitmqctl (to drop the message; TEST_RABBITMQCTL)")
    import boto3

    webm = make_webm(tmp_path / "lost.webm", seconds=2).read_bytes()
    with fresh_postgres_database() as database_url, fresh_rabbitmq_vhost() as broker_url:
        vhost = broker_url.rsplit("/", 1)[1]
        bucket = f"recordplus-{uuid.uuid4().hex[:8]}"
        # Live transcription off: its live_decode messages (one per indexed chunk) share the
        # assemble queue, and this test counts the one assemble message it then drops.
        env = cluster_env(database_url, broker_url, moto_server, bucket) | {
            "WORKER_METRICS_PORT": str(free_port()), "LIVE_TRANSCRIPTION": "false",
        }  # fmt: skip
        s3 = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        stack = Stack(mode="cluster", env=env, workdir=tmp_path, s3=s3, bucket=bucket)
        try:
            stack.run("migrate")
            stack.start_server()  # no worker yet: the message waits in RabbitMQ
            video_id = upload(stack, webm, chunk_sizes=[len(webm) // 2])
            ((status,),) = db_rows(stack, "SELECT status FROM videos_video WHERE id = %s", (video_id,))
            assert status == "assembling"
            assert sum(queue_lengths(vhost).get(q, 0) for q in ("assemble", "assemble.DQ")) == 1

            # The message is lost (a broker without persistence restarted, a queue deleted…).
            for queue in ("assemble", "assemble.DQ"):
                subprocess.run([str(rabbitmqctl()), "purge_queue", "-p", vhost, queue], check=True, capture_output=True, timeout=60)
            assert sum(queue_lengths(vhost).values()) == 0
            stack.add("worker", [RECORDPLUS, "worker", "--queues", "assemble"])

            reconciled = stack.run("reconcile", "--stale-seconds", "0")
            assert reconciled.returncode == 0, reconciled.stderr
            video = stack.wait_for(video_id, timeout=180)
            assert video["status"] == "ready", video
            assert stored_original(stack, video) == webm
        finally:
            stack.stop()
