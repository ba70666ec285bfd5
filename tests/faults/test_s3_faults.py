"""S3 misbehaving under the cluster stack: 503 SlowDown, connection resets, slow answers and a
dropped CompleteMultipartUpload, injected by a proxy on loopback in front of moto.

Every write is retried (boto3's standard retry mode, then the job's own retries): the video
ends `ready`, its stored original is byte-exact (nothing lost, nothing doubled), the chunk
objects are cleaned up and no multipart upload is left open (no orphan parts).
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from tests.conftest import fresh_postgres_database, fresh_rabbitmq_vhost, make_cluster_stack
from tests.faults.s3_proxy import FaultyS3Proxy
from tests.faults.services import wait_until
from tests.support import make_webm, upload

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def test_it_survives_s3_faults_without_losing_or_doubling_bytes(tmp_path: Path, moto_server: str) -> None:
    # Over 5 MiB in pieces over 5 MiB: a multipart upload with server-side part copies.
    webm = make_webm(tmp_path / "big.webm", seconds=12, size="1280x720", bitrate="8M").read_bytes()
    assert len(webm) > 10 * 1024 * 1024, len(webm)
    direct = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
    with FaultyS3Proxy(moto_server) as proxy, fresh_postgres_database() as db, fresh_rabbitmq_vhost() as broker:
        stack = make_cluster_stack(tmp_path / "stack", db, broker, proxy.url)
        try:
            half = len(webm) // 2
            video_id = upload(stack, webm, chunk_sizes=[half])
            video = stack.wait_for(video_id, timeout=300)
            assert video["status"] == "ready", video
            key = f"videos/{video['public_id']}/source.bin"
            assert direct.get_object(Bucket=stack.bucket, Key=key)["Body"].read() == webm
            assert direct.list_multipart_uploads(Bucket=stack.bucket).get("Uploads", []) == []
            chunks = f"videos/{video['public_id']}/chunks/"
            wait_until(
                lambda: direct.list_objects_v2(Bucket=stack.bucket, Prefix=chunks).get("KeyCount", 0) == 0,
                60, "the chunk objects being removed after ready",
            )  # fmt: skip
            # The faults did happen (a schedule that never fired would prove nothing).
            assert proxy.injected["drop"] == 1 and proxy.injected["slowdown"] >= 2 and proxy.injected["reset"] >= 2, proxy.injected
            assert proxy.seen["complete"] >= 2, proxy.seen
            stack.assert_alive()
        finally:
            stack.stop()
