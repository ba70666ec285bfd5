"""ObjectStore.concat (stitching): byte-exact on disk and on S3, with server-side UploadPartCopy
for chunks of 5 MiB and more, buffered parts below that, and convergence when run again."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from recordplus.core.storage import Piece
from recordplus.core.storage.filesystem import FileStore
from recordplus.core.storage.s3 import S3Store
from tests.conftest import Stack
from tests.support import fetch, upload

MiB = 1024 * 1024


@pytest.fixture
def s3(moto_server: str):
    client = boto3.client(
        "s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    bucket = f"stitch-{os.urandom(4).hex()}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


class CountingClient:
    """Passes calls to a real boto3 client, counting the multipart calls made."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.client = client
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str):  # noqa: ANN204
        attr = getattr(self.client, name)
        if callable(attr):
            def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
                self.calls[name] = self.calls.get(name, 0) + 1
                return attr(*args, **kwargs)
            return counted
        return attr


def put_pieces(client, bucket: str, sizes: list[int]) -> tuple[list[Piece], bytes]:  # noqa: ANN001
    pieces, everything = [], bytearray()
    for index, size in enumerate(sizes):
        data = os.urandom(size)
        key = f"chunks/{index}.part"
        client.put_object(Bucket=bucket, Key=key, Body=data)
        pieces.append(Piece(key=key, size=size))
        everything.extend(data)
    return pieces, bytes(everything)


def read(client, bucket: str, key: str) -> bytes:  # noqa: ANN001
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_it_copies_large_chunks_server_side(s3) -> None:  # noqa: ANN001
    client, bucket = s3
    pieces, expected = put_pieces(client, bucket, [6 * MiB, 5 * MiB, 7 * MiB + 3])
    counting = CountingClient(client)
    result = S3Store(counting, bucket).concat(pieces, "out.bin")
    assert read(client, bucket, "out.bin") == expected
    assert result.size == len(expected)
    assert result.copied_parts == 3
    assert counting.calls.get("upload_part_copy") == 3
    assert counting.calls.get("upload_part", 0) == 0


def test_it_buffers_small_chunks_into_valid_parts(s3) -> None:  # noqa: ANN001
    client, bucket = s3
    sizes = [700_000] * 9 + [3 * MiB, 12 * MiB + 11, 100, 5 * MiB, 999]
    pieces, expected = put_pieces(client, bucket, sizes)
    progress: list[float] = []
    result = S3Store(client, bucket).concat(pieces, "mixed.bin", progress.append)
    assert read(client, bucket, "mixed.bin") == expected
    assert result.buffered_parts >= 1
    assert result.copied_parts >= 1  # the head of the 12 MiB chunk tops up the buffer, the rest is copied
    assert progress[-1] == pytest.approx(1.0)
    assert progress == sorted(progress)


def test_it_handles_a_small_total(s3) -> None:  # noqa: ANN001
    client, bucket = s3
    pieces, expected = put_pieces(client, bucket, [10, 20, 30])
    S3Store(client, bucket).concat(pieces, "small.bin")
    assert read(client, bucket, "small.bin") == expected


def test_it_converges_when_run_again_after_a_crash(s3) -> None:  # noqa: ANN001
    client, bucket = s3
    pieces, expected = put_pieces(client, bucket, [6 * MiB, 1 * MiB])
    # A crashed run leaves an incomplete multipart upload behind.
    client.create_multipart_upload(Bucket=bucket, Key="again.bin")
    S3Store(client, bucket).concat(pieces, "again.bin")
    S3Store(client, bucket).concat(pieces, "again.bin")
    assert read(client, bucket, "again.bin") == expected
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket, Prefix="again")["Contents"]] == ["again.bin"]


def test_it_concatenates_files_atomically(tmp_path: Path) -> None:
    sizes = [1, 1000, 3 * MiB, 7]
    pieces, expected = [], bytearray()
    for index, size in enumerate(sizes):
        data = os.urandom(size)
        (tmp_path / f"{index}.part").write_bytes(data)
        pieces.append(Piece(key=f"{index}.part", size=size))
        expected.extend(data)
    assert FileStore(tmp_path).concat(pieces, "v/source.bin").size == len(expected)
    assert (tmp_path / "v/source.bin").read_bytes() == bytes(expected)
    assert not [p for p in (tmp_path / "v").iterdir() if p.name.startswith(".stitch-")]


def test_it_stitches_more_than_5_mib_through_the_api(stack: Stack) -> None:
    data = os.urandom(5 * MiB + 1234) + os.urandom(6 * MiB) + os.urandom(200_000)
    video_id = upload(stack, data, chunk_sizes=[5 * MiB + 1234, 6 * MiB, 200_000])
    video = stack.wait_for(video_id)
    # Random bytes are not a video: the stitch is still kept and byte-exact.
    assert video["status"] == "failed"
    original = fetch(stack, f"/api/record/videos/{video_id}/original")
    assert original.status_code == 200, original.text
    assert original.content == data
    if stack.mode == "cluster":
        log = "\n".join(p.tail(400) for p in stack.processes if p.name == "worker")
        assert f"video {video_id} stitched (s3)" in log
        assert "3 copied parts" in log or "2 copied parts" in log


class FailingComplete(CountingClient):
    """A real client whose CompleteMultipartUpload fails with S3's transient 500 after S3 has
    already dropped the upload, so the abort that follows answers NoSuchUpload."""

    def complete_multipart_upload(self, **kwargs):  # noqa: ANN003, ANN201
        from botocore.exceptions import ClientError

        self.client.abort_multipart_upload(Bucket=kwargs["Bucket"], Key=kwargs["Key"], UploadId=kwargs["UploadId"])
        raise ClientError(
            {"Error": {"Code": "InternalError", "Message": "We encountered an internal error. Please try again."},
             "ResponseMetadata": {"HTTPStatusCode": 500}},
            "CompleteMultipartUpload",
        )  # fmt: skip


def test_a_transient_failure_to_complete_stays_retryable_when_the_abort_fails_too(s3) -> None:  # noqa: ANN001
    """Catches: the clean-up abort's NoSuchUpload replacing S3's 500, which made the assembler
    fail the video for good (a deterministic error) instead of retrying."""
    from botocore.exceptions import ClientError

    from recordplus.core import jobs

    client, bucket = s3
    pieces, _ = put_pieces(client, bucket, [6 * MiB, 1 * MiB])
    with pytest.raises(ClientError) as raised:
        S3Store(FailingComplete(client), bucket).concat(pieces, "flaky.bin")
    assert raised.value.response["Error"]["Code"] == "InternalError"
    assert jobs.classify(raised.value).permanent is False
