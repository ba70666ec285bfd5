"""The ObjectStore contract, the same tests run against both stores: FileStore on a temporary
folder and S3Store on a fresh bucket of moto's S3 server. (concat has its own file,
tests/core/test_storage_concat.py.)"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from recordplus.core.storage import ObjectStore, Written
from recordplus.core.storage.base import COPY_BUFFER
from recordplus.core.storage.filesystem import FileStore
from recordplus.core.storage.s3 import S3Store

MiB = 1024 * 1024


class Reader:
    """A plain, non-seekable stream, like a request body."""

    def __init__(self, data: bytes) -> None:
        self.data, self.offset = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n is None or n < 0 else self.offset + n
        piece, self.offset = self.data[self.offset : end], min(end, len(self.data))
        return piece


def client_for(endpoint: str):  # noqa: ANN201 - a boto3 client
    # Signed as the product signs (recordplus.core.storage._s3_client).
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t",
        config=Config(signature_version="s3v4"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def s3_client(moto_server: str):  # noqa: ANN201 - a boto3 client
    return client_for(moto_server)


def fresh_bucket(s3_client) -> str:  # noqa: ANN001
    bucket = f"stores-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["filesystem", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "filesystem":
        store = FileStore(tmp_path / "root")
        store.ensure_ready()
        return store
    client = request.getfixturevalue("s3_client")
    return S3Store(client, fresh_bucket(client))


def put(store: ObjectStore, key: str, data: bytes) -> Written:
    return store.write(key, Reader(data))


def listing(store: ObjectStore) -> list[str]:
    """Every object key in the store, read behind its back."""
    if isinstance(store, FileStore):
        root = store.root.resolve()
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert isinstance(store, S3Store)
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def leave_temporaries(store: ObjectStore, key: str) -> None:
    """What a run killed half-way through writing `key` leaves behind."""
    if isinstance(store, FileStore):
        folder = store.path(key).parent
        folder.mkdir(parents=True, exist_ok=True)
        for prefix in (".tmp-", ".stitch-"):
            fd, _ = tempfile.mkstemp(dir=folder, prefix=prefix)
            os.write(fd, b"half written")
            os.close(fd)
        return
    assert isinstance(store, S3Store)
    upload_id = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)["UploadId"]
    store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"half written")


def temporaries(store: ObjectStore) -> list[str]:
    """The leftovers of killed runs: temporary files, or open multipart uploads' keys."""
    if isinstance(store, FileStore):
        root = store.root.resolve()
        return sorted(
            p.relative_to(root).as_posix() for p in root.rglob(".*") if p.name.startswith((".tmp-", ".stitch-"))
        )
    assert isinstance(store, S3Store)
    return sorted(u["Key"] for u in store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []))


# --- write / read -------------------------------------------------------------------------


def test_it_writes_and_reports_size_and_sha256(store: ObjectStore) -> None:
    data = os.urandom(300_000)
    written = put(store, "videos/a/chunks/1.part", data)
    assert written == Written(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert store.read_bytes("videos/a/chunks/1.part") == data
    assert listing(store) == ["videos/a/chunks/1.part"]


def test_it_writes_a_large_stream(store: ObjectStore) -> None:
    # Larger than boto3's multipart threshold (8 MiB) and several copy buffers.
    data = os.urandom(9 * MiB + 17)
    written = put(store, "videos/a/source.bin", data)
    assert written.size == len(data)
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert store.read_bytes("videos/a/source.bin") == data


def test_it_writes_an_empty_object(store: ObjectStore) -> None:
    assert put(store, "videos/a/empty", b"") == Written(size=0, sha256=hashlib.sha256(b"").hexdigest())
    assert store.exists("videos/a/empty")
    assert store.size("videos/a/empty") == 0
    assert store.read_bytes("videos/a/empty") == b""


def test_it_replaces_what_was_under_the_key(store: ObjectStore) -> None:
    put(store, "videos/a/video.webm", b"old bytes, longer than the new ones")
    written = put(store, "videos/a/video.webm", b"new")
    assert written.size == 3
    assert store.read_bytes("videos/a/video.webm") == b"new"
    assert store.size("videos/a/video.webm") == 3
    assert listing(store) == ["videos/a/video.webm"]
    assert temporaries(store) == []


def test_it_writes_a_local_file(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "thumb.jpg"
    source.write_bytes(b"\xff\xd8\xff jpeg")
    assert store.write_file("videos/a/thumbnail.jpg", source, content_type="image/jpeg").size == 8
    assert store.read_bytes("videos/a/thumbnail.jpg") == b"\xff\xd8\xff jpeg"


def test_it_keeps_the_old_object_when_a_write_fails(store: ObjectStore) -> None:
    put(store, "videos/a/video.webm", b"good")

    class Broken(Reader):
        def read(self, n: int = -1) -> bytes:
            if self.offset:
                raise OSError("the client went away")
            return super().read(n)

    with pytest.raises(Exception):  # noqa: B017, PT011 - each store wraps it its own way
        store.write("videos/a/video.webm", Broken(os.urandom(9 * MiB)))
    assert store.read_bytes("videos/a/video.webm") == b"good"
    if isinstance(store, FileStore):
        assert temporaries(store) == []


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, slice(0, 1)),
        (0, 99, slice(0, 100)),
        (1000, 1999, slice(1000, 2000)),
        (2_999_999, 2_999_999, slice(2_999_999, 3_000_000)),
        (0, 2_999_999, slice(0, 3_000_000)),
        (COPY_BUFFER - 1, COPY_BUFFER, slice(COPY_BUFFER - 1, COPY_BUFFER + 1)),
        (2_999_000, 5_000_000, slice(2_999_000, 3_000_000)),  # an end past the object is cut at its end
    ],
    ids=["first-byte", "head", "middle", "last-byte", "whole", "across-a-buffer", "past-the-end"],
)
def test_it_reads_a_range(store: ObjectStore, start: int, end: int, expected: slice) -> None:
    data = os.urandom(3_000_000)
    put(store, "videos/a/video.webm", data)
    pieces = list(store.read_range("videos/a/video.webm", start, end))
    assert b"".join(pieces) == data[expected]
    assert all(len(p) <= COPY_BUFFER for p in pieces)


def test_it_reads_nothing_for_an_empty_range(store: ObjectStore) -> None:
    put(store, "videos/a/video.webm", b"0123456789")
    assert list(store.read_range("videos/a/video.webm", 5, 4)) == []
    assert list(store.read_range("videos/a/video.webm", 0, -1)) == []


def test_it_reads_a_whole_object(store: ObjectStore) -> None:
    put(store, "videos/a/transcript.vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
    assert store.read_bytes("videos/a/transcript.vtt") == b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n"


# --- size / exists / delete ---------------------------------------------------------------


def test_it_knows_sizes_and_existence(store: ObjectStore) -> None:
    put(store, "videos/a/chunks/1.part", b"x" * 1234)
    assert store.size("videos/a/chunks/1.part") == 1234
    assert store.exists("videos/a/chunks/1.part")
    assert not store.exists("videos/a/chunks/2.part")
    assert not store.exists("videos/a/chunks")  # a "folder" is not an object
    assert not store.exists("videos/a/")
    with pytest.raises(FileNotFoundError):
        store.size("videos/a/chunks/2.part")


def test_it_deletes_and_is_idempotent(store: ObjectStore) -> None:
    put(store, "videos/a/video.webm", b"v")
    put(store, "videos/a/thumbnail.jpg", b"t")
    store.delete("videos/a/video.webm")
    assert not store.exists("videos/a/video.webm")
    store.delete("videos/a/video.webm")
    store.delete("videos/never/was.bin")
    assert listing(store) == ["videos/a/thumbnail.jpg"]


def test_it_deletes_exactly_a_prefix(store: ObjectStore) -> None:
    for key in (
        "videos/ab/video.webm",
        "videos/abc/video.webm",
        "videos/abc/chunks/1.part",
        "videos/abc/chunks/2.part",
        "videos/abcd/source.bin",
        "videos/abc.txt",
    ):
        put(store, key, key.encode())
    assert store.delete_prefix("videos/abc/") == 3
    assert listing(store) == ["videos/ab/video.webm", "videos/abc.txt", "videos/abcd/source.bin"]
    assert store.read_bytes("videos/ab/video.webm") == b"videos/ab/video.webm"
    assert store.delete_prefix("videos/abc/") == 0
    if isinstance(store, FileStore):
        # One empty folder per deleted video would pile up.
        assert not (store.root / "videos/abc").exists()
        assert (store.root / "videos/ab").is_dir()


def test_it_deletes_by_plain_string_prefix(store: ObjectStore) -> None:
    for key in ("videos/ab/x", "videos/abc/y", "videos/a/z", "videos/b/w"):
        put(store, key, b"1")
    assert store.delete_prefix("videos/ab") == 2
    assert listing(store) == ["videos/a/z", "videos/b/w"]


def test_it_deletes_a_prefix_that_has_nothing(store: ObjectStore) -> None:
    put(store, "videos/a/x", b"1")
    assert store.delete_prefix("videos/zzz/") == 0
    assert listing(store) == ["videos/a/x"]


def test_it_leaves_no_empty_folders_after_deleting_a_prefix(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    put(store, "videos/abc/chunks/deep/1.part", b"1")
    put(store, "videos/abc/source.bin", b"2")
    put(store, "videos/keep/source.bin", b"3")
    (tmp_path / "videos/abc/empty/folder").mkdir(parents=True)
    assert store.delete_prefix("videos/abc/") == 2
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "videos", "videos/keep", "videos/keep/source.bin",
    ]  # fmt: skip


# --- download -----------------------------------------------------------------------------


def test_it_downloads_to_a_file(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(2 * MiB + 5)
    put(store, "videos/a/source.bin", data)
    dest = tmp_path / "work" / "deep" / "source.bin"
    assert store.download("videos/a/source.bin", dest) == len(data)
    assert dest.read_bytes() == data


def test_it_replaces_an_existing_download(store: ObjectStore, tmp_path: Path) -> None:
    put(store, "videos/a/source.bin", b"fresh")
    dest = tmp_path / "source.bin"
    dest.write_bytes(b"stale and longer")
    assert store.download("videos/a/source.bin", dest) == 5
    assert dest.read_bytes() == b"fresh"


def test_it_keeps_a_download_apart_from_later_writes(store: ObjectStore, tmp_path: Path) -> None:
    put(store, "videos/a/video.webm", b"first")
    dest = tmp_path / "video.webm"
    store.download("videos/a/video.webm", dest)
    put(store, "videos/a/video.webm", b"second")
    assert dest.read_bytes() == b"first"
    assert store.read_bytes("videos/a/video.webm") == b"second"


def test_it_fails_to_download_a_missing_object(store: ObjectStore, tmp_path: Path) -> None:
    with pytest.raises((FileNotFoundError, ClientError)):
        store.download("videos/a/missing.bin", tmp_path / "missing.bin")


# --- presigned URLs -----------------------------------------------------------------------


def test_it_presigns_only_where_browsers_can_fetch_directly(store: ObjectStore) -> None:
    data = os.urandom(50_000)
    put(store, "videos/a/video.webm", data)
    url = store.presigned_url("videos/a/video.webm", content_type="video/webm", filename="a.webm")
    if isinstance(store, FileStore):
        assert url is None  # the API serves the bytes itself
        return
    assert url is not None and "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    whole = httpx.get(url, timeout=30)
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["content-type"] == "video/webm"
    assert whole.headers["content-disposition"] == 'inline; filename="a.webm"'
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    assert ranged.status_code == 206
    assert ranged.content == data[10:20]


def test_it_signs_for_the_public_endpoint(s3_client, moto_server: str) -> None:  # noqa: ANN001
    public = client_for(moto_server.replace("127.0.0.1", "localhost"))
    bucket = fresh_bucket(s3_client)
    store = S3Store(s3_client, bucket, public_client=public, presign_seconds=60)
    put(store, "videos/a/video.webm", b"public bytes")
    url = store.presigned_url("videos/a/video.webm")
    assert url is not None
    assert url.startswith(moto_server.replace("127.0.0.1", "localhost"))
    assert "X-Amz-Expires=60" in url
    assert httpx.get(url, timeout=30).content == b"public bytes"


def test_it_stores_the_content_type_on_s3(s3_client) -> None:  # noqa: ANN001
    store = S3Store(s3_client, fresh_bucket(s3_client))
    store.write("videos/a/video.mp4", Reader(b"mp4"), content_type="video/mp4")
    assert s3_client.head_object(Bucket=store.bucket, Key="videos/a/video.mp4")["ContentType"] == "video/mp4"


def test_it_moves_large_objects_with_at_most_two_transfers_at_once(moto_server: str, tmp_path: Path) -> None:
    """boto3's managed transfers default to 10 threads of 8 MiB parts (100+ MiB in flight in the
    assembler, issue 15); S3Store bounds them. Counted at moto: parts in flight at once."""
    client = client_for(moto_server)
    bucket = fresh_bucket(client)
    in_flight = {"now": 0, "most": 0, "calls": 0}
    lock = threading.Lock()

    def started(**_: object) -> None:
        with lock:
            in_flight["now"] += 1
            in_flight["calls"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])

    def ended(**_: object) -> None:
        with lock:
            in_flight["now"] -= 1

    for operation in ("UploadPart", "GetObject"):
        client.meta.events.register(f"before-call.s3.{operation}", started)
        client.meta.events.register(f"after-call.s3.{operation}", ended)
    store = S3Store(client, bucket)
    data = os.urandom(64 * MiB)

    written = store.write("videos/a/source.bin", Reader(data))
    assert written.size == len(data) and in_flight["calls"] >= 8, in_flight  # a multipart upload
    assert in_flight["most"] <= 2, f"{in_flight['most']} parts uploaded at once"

    in_flight.update(most=0, calls=0)
    assert store.download("videos/a/source.bin", tmp_path / "copy.bin") == len(data)
    assert in_flight["calls"] >= 8, in_flight  # ranged parts, not one GET
    assert in_flight["most"] <= 2, f"{in_flight['most']} parts downloaded at once"
    assert hashlib.sha256((tmp_path / "copy.bin").read_bytes()).digest() == hashlib.sha256(data).digest()


# --- leftovers of killed runs -------------------------------------------------------------


def test_it_removes_temporaries_under_a_prefix_only(store: ObjectStore) -> None:
    put(store, "videos/abc/chunks/1.part", b"chunk")
    put(store, "videos/abc/source.bin", b"source")
    leave_temporaries(store, "videos/abc/source.bin")
    leave_temporaries(store, "videos/abc/chunks/2.part")
    leave_temporaries(store, "videos/abcd/source.bin")  # another video, perhaps being stitched now
    before = temporaries(store)
    expected = 4 if isinstance(store, FileStore) else 2
    assert len([t for t in before if t.startswith("videos/abc/")]) == expected
    assert store.remove_temporaries("videos/abc/") == expected
    assert [t for t in temporaries(store) if t.startswith("videos/abc/")] == []
    assert [t for t in temporaries(store) if t.startswith("videos/abcd/")] == [t for t in before if t.startswith("videos/abcd/")]
    assert store.read_bytes("videos/abc/chunks/1.part") == b"chunk"
    assert store.read_bytes("videos/abc/source.bin") == b"source"
    assert store.remove_temporaries("videos/abc/") == 0
    assert store.remove_temporaries("videos/nothing-here/") == 0


def test_it_keeps_files_that_only_look_hidden(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    put(store, "videos/a/.keep", b"k")
    put(store, "videos/a/tmp-not-a-temporary", b"t")
    assert store.remove_temporaries("videos/a/") == 0
    assert listing(store) == ["videos/a/.keep", "videos/a/tmp-not-a-temporary"]


# --- readiness ----------------------------------------------------------------------------


def test_it_makes_a_folder_ready(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "new" / "root")
    store.ensure_ready()
    assert (tmp_path / "new" / "root").is_dir()
    store.ensure_ready()
    store.ping()


def test_it_pings_a_read_only_folder_as_broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # os.access, not chmod: tests may run as root, who may write anywhere.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == tmp_path else real_access(path, mode))
    with pytest.raises(OSError, match="not writable"):
        FileStore(tmp_path).ping()


def test_it_creates_the_bucket_where_allowed(s3_client) -> None:  # noqa: ANN001
    bucket = f"stores-{uuid.uuid4().hex[:12]}"
    store = S3Store(s3_client, bucket, create_bucket=True)
    with pytest.raises(ClientError):
        store.ping()
    store.ensure_ready()
    store.ensure_ready()  # already there: no error
    store.ping()
    put(store, "videos/a/x", b"1")
    assert store.read_bytes("videos/a/x") == b"1"


def test_it_leaves_a_missing_bucket_alone_unless_allowed(s3_client) -> None:  # noqa: ANN001
    bucket = f"stores-{uuid.uuid4().hex[:12]}"
    store = S3Store(s3_client, bucket, create_bucket=False)
    store.ensure_ready()
    with pytest.raises(ClientError):
        store.ping()
    assert bucket not in [b["Name"] for b in s3_client.list_buckets()["Buckets"]]


def test_it_pings_a_ready_store(store: ObjectStore) -> None:
    store.ping()


# --- FileStore keys stay inside the root --------------------------------------------------


@pytest.fixture
def jail(tmp_path: Path) -> Iterator[FileStore]:
    (tmp_path / "root").mkdir()
    (tmp_path / "rootevil").mkdir()
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    yield FileStore(tmp_path / "root")


# Absolute keys point into the test's own folder: should the check ever break, a test run as
# root must not overwrite a real system file (a mutant of this check once replaced /etc/passwd).
@pytest.mark.parametrize(
    "key", ["../secret", "videos/../../secret", "../rootevil/x", "ABSOLUTE/secret", "ABSOLUTE/rootevil/y", "link/secret"]
)
def test_it_refuses_keys_outside_the_root(jail: FileStore, key: str) -> None:
    key = key.replace("ABSOLUTE", str(jail.root.parent))
    for call in (
        lambda: jail.write(key, Reader(b"pwned")),
        lambda: list(jail.read_range(key, 0, 10)),
        lambda: jail.read_bytes(key),
        lambda: jail.size(key),
        lambda: jail.exists(key),
        lambda: jail.delete(key),
        lambda: jail.delete_prefix(key),
        lambda: jail.download(key, jail.root.parent / "copy"),
        lambda: jail.remove_temporaries(key),
    ):
        with pytest.raises(ValueError, match="outside the storage root"):
            call()
    assert (jail.root.parent / "secret").read_bytes() == b"secret"
    assert list((jail.root.parent / "rootevil").iterdir()) == []
    assert not (jail.root.parent / "copy").exists()


def test_it_allows_dots_that_stay_inside_the_root(jail: FileStore) -> None:
    put(jail, "videos/../videos/a/x", b"inside")
    assert jail.read_bytes("videos/a/x") == b"inside"


def test_a_folder_delete_survives_a_writer_still_at_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A delete during assembly: a file renamed away between listing and unlink, and a folder
    that receives a new file before it is removed, must not fail the delete (it was a 500)."""
    store = FileStore(tmp_path / "media")
    store.write("videos/v1/chunks/0", io.BytesIO(b"zero"))
    store.write("videos/v1/chunks/1", io.BytesIO(b"one"))
    vanishing = store.path("videos/v1/chunks/0")
    real_unlink = Path.unlink
    real_rmdir = Path.rmdir

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self == vanishing:
            real_unlink(self)  # the writer renamed it away just before us
        real_unlink(self, missing_ok=missing_ok)

    def rmdir(self: Path) -> None:
        if self == store.path("videos/v1/chunks"):
            (self / "late.part").write_bytes(b"x")  # the writer's next file lands first
        real_rmdir(self)

    monkeypatch.setattr(Path, "unlink", unlink)
    monkeypatch.setattr(Path, "rmdir", rmdir)
    assert store.delete_prefix("videos/v1/") == 1
    monkeypatch.undo()
    assert not store.path("videos/v1/chunks/1").exists()
    # What the writer added later is left for its own clean-up (the pipeline deletes again).
    assert (store.path("videos/v1/chunks") / "late.part").exists()


# --- concurrent writers and deletes (FileStore) ----------------------------------------------


def test_it_sweeps_only_temporaries_whose_writer_is_gone(tmp_path: Path) -> None:
    """Catches: the assembler's clean-up after `ready` deleting the temporary file the
    transcriber of the same embedded server was writing (transcript.srt failed with
    FileNotFoundError when the live path finished within a second of ready)."""
    store = FileStore(tmp_path)
    folder = tmp_path / "videos/abc"
    folder.mkdir(parents=True)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)  # a pid that no longer runs
    mine = folder / f".tmp-p{os.getpid()}-inflight"
    gone = folder / f".stitch-p{dead}-abandoned"
    legacy = folder / ".tmp-abandoned"  # written before temporaries carried their writer's pid
    for path in (mine, gone, legacy):
        path.write_bytes(b"partial")
    assert store.remove_temporaries("videos/abc/") == 2
    assert sorted(p.name for p in folder.iterdir()) == [mine.name]


def test_its_temporaries_carry_the_writers_pid(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    seen: list[str] = []

    class Spy(Reader):
        def read(self, n: int = -1) -> bytes:
            seen.extend(p.name for p in (tmp_path / "videos/abc").iterdir())
            return super().read(n)

    store.write("videos/abc/transcript.srt", Spy(b"1\n"))
    assert seen and all(name.startswith(f".tmp-p{os.getpid()}-") for name in seen)
    assert store.remove_temporaries("videos/abc/") == 0
    assert store.read_bytes("videos/abc/transcript.srt") == b"1\n"


def test_it_deletes_a_prefix_while_another_delete_of_it_runs(tmp_path: Path) -> None:
    """Catches: two deletes of one video's folder at once (the owner's delete and the
    assembler's clean-up) — the walk met a folder the other had just removed and raised
    FileNotFoundError (a 500, or a crashed clean-up)."""
    import threading

    store = FileStore(tmp_path)
    for round_ in range(5):
        for a in range(30):
            for b in range(4):
                (tmp_path / f"videos/abc/{a}/{b}").mkdir(parents=True, exist_ok=True)
                (tmp_path / f"videos/abc/{a}/{b}/x.part").write_bytes(b"1")
        errors: list[BaseException] = []
        counts: list[int] = []
        go = threading.Barrier(6)

        def delete() -> None:
            go.wait()
            try:
                counts.append(store.delete_prefix("videos/abc/"))
            except BaseException as error:  # noqa: BLE001 - the test reports any
                errors.append(error)

        threads = [threading.Thread(target=delete) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"round {round_}: {errors[0]!r}"
        assert sum(counts) == 120  # each file deleted exactly once, by one of them
        assert not (tmp_path / "videos/abc").exists()
