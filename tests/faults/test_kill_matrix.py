"""kill -9 at seeded random points: the embedded server during upload and assembly, a cluster
worker during assembly. Every kill point is an event, never a moment in time — after the Nth
chunk's answer, right after finalize, on seeing the assembly's progress pass a drawn
threshold — drawn by random.Random(seed); the seed is printed (KILL_MATRIX_SEED replays it).

After each kill the process is started again (the embedded server's reconciler re-enqueues its
unfinished work; RabbitMQ redelivers the cluster worker's unacked message once its lease runs
out). Then every video must be `ready`, its stored original byte-exact to the uploaded bytes,
no object outside a live video's prefix (and no chunk or open multipart upload left over), no
process the killed one had started still running (ffmpeg dies with its parent), and no scratch
folder left behind.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import (
    RECORDPLUS,
    Process,
    Stack,
    embedded_env,
    fresh_postgres_database,
    fresh_rabbitmq_vhost,
    make_cluster_stack,
)
from tests.faults.services import wait_until
from tests.support import (
    create_video,
    fetch,
    finalize,
    make_webm,
    send_chunk,
    split,
    stored_keys,
    stored_original,
    uneven_sizes,
    upload,
)

pytestmark = [pytest.mark.cluster, pytest.mark.faults]

SEED = int(os.environ.get("KILL_MATRIX_SEED") or random.SystemRandom().randrange(1 << 30))
CHUNKS = 8


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc), so they can be checked after the kill."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class Killer:
    """SIGKILLs a stack process and remembers what it had started, to check none outlives it."""

    def __init__(self) -> None:
        self.kills: list[str] = []
        self.orphans_to_check: set[int] = set()

    def kill(self, stack: Stack, process: Process, point: str) -> None:
        assert process.proc is not None and process.proc.poll() is None, f"{process.name} already gone before {point}"
        self.orphans_to_check |= descendants(process.proc.pid)
        process.stop(signal.SIGKILL)
        stack.processes.remove(process)
        self.kills.append(point)
        print(f"kill -9 {process.name} at {point}")

    def assert_no_leftover_processes(self) -> None:
        wait_until(lambda: not any(running(pid) for pid in self.orphans_to_check), 30,
                   "the killed processes' children (ffmpeg) ending")  # fmt: skip


def watch_progress(stack: Stack, video_id: int, threshold: float, timeout: float = 240) -> dict | None:
    """The video's detail once its assembly progress reached `threshold`; None when it ended first."""
    deadline = time.monotonic() + timeout
    with stack.client() as client:
        while time.monotonic() < deadline:
            video = client.get(f"/api/record/videos/{video_id}").json()
            if video["status"] != "assembling":
                return None
            if video["progress"] >= threshold:
                return video
            time.sleep(0.02)
    raise AssertionError(f"video {video_id} made no progress to {threshold}\n{stack.logs()}")


def assert_converged(stack: Stack, expected: dict[int, bytes]) -> None:
    public_ids = []
    for video_id, data in expected.items():
        video = stack.wait_for(video_id, timeout=300)
        assert video["status"] == "ready" and video["progress"] == 1.0, video
        assert stored_original(stack, video) == data, f"video {video_id}: stored original differs from the upload"
        assert fetch(stack, f"/api/record/videos/{video_id}/original").content == data
        public_ids.append(video["public_id"])
    prefixes = tuple(f"videos/{p}/" for p in public_ids)
    wait_until(lambda: not [k for k in stored_keys(stack, "") if "/chunks/" in k], 60, "chunk objects being removed")
    keys = stored_keys(stack, "")
    orphans = [k for k in keys if not k.startswith(prefixes) and not k.endswith(".secret")]
    assert orphans == [], f"objects outside every live video's prefix: {orphans}"
    for prefix in prefixes:
        names = {k[len(prefix):] for k in keys if k.startswith(prefix)}
        assert {"source.bin", "video.webm", "thumbnail.jpg", "audio.wav"} <= names, (prefix, names)
    if stack.mode == "cluster":
        assert stack.s3.list_multipart_uploads(Bucket=stack.bucket).get("Uploads", []) == []


def scratch_dirs(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("recordplus-assemble-"))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("media")
    return [make_webm(folder / f"k{i}.webm", seconds=8 + 2 * i, size="960x540", bitrate="1500k").read_bytes() for i in range(3)]


def test_embedded_server_killed_during_upload_and_assembly(tmp_path: Path, recordings: list[bytes]) -> None:
    rng = random.Random(SEED)
    print(f"kill matrix seed {SEED} (KILL_MATRIX_SEED={SEED} replays it)")
    data_dir, scratch = tmp_path / "var", tmp_path / "tmp"
    scratch.mkdir()
    env = embedded_env(data_dir, FINALIZE_SETTLE_SECONDS="0.2", TMPDIR=str(scratch))
    stack = Stack(mode="embedded", env=env, workdir=tmp_path, data_dir=data_dir)
    killer = Killer()
    expected: dict[int, bytes] = {}

    def server() -> Process:
        return next(p for p in stack.processes if p.name == "api")

    def restart() -> None:
        stack.start_server()

    stack.start_server()
    try:
        for round_ in range(6):
            data = recordings[rng.randrange(len(recordings))]
            pieces = split(data, uneven_sizes(len(data), CHUNKS))
            kill_after = rng.randrange(1, len(pieces))  # after the Nth chunk's answer
            with stack.client() as client:
                video_id = create_video(client, title=f"round {round_}")
            expected[video_id] = data
            for index, piece in enumerate(pieces):
                with stack.client() as client:
                    assert send_chunk(client, video_id, piece, index).status_code == 200
                if index + 1 == kill_after:
                    killer.kill(stack, server(), f"video {video_id}: upload, after chunk {index + 1}/{len(pieces)}")
                    restart()
            with stack.client() as client:
                assert finalize(client, video_id).status_code == 200
            if rng.random() < 0.25:
                killer.kill(stack, server(), f"video {video_id}: right after finalize")
                restart()
            threshold = round(rng.uniform(0.02, 0.9), 2)
            if watch_progress(stack, video_id, threshold) is not None:
                killer.kill(stack, server(), f"video {video_id}: assembly at progress >= {threshold}")
                restart()
        assert len(killer.kills) >= 10, killer.kills
        assert_converged(stack, expected)
        killer.assert_no_leftover_processes()
        assert scratch_dirs(scratch) == [], "scratch folders of killed runs left behind"
    finally:
        stack.stop()
    print(f"seed {SEED}: {len(killer.kills)} kills:", *killer.kills, sep="\n  ")


def test_cluster_worker_killed_during_assembly(tmp_path: Path, recordings: list[bytes], moto_server: str) -> None:
    rng = random.Random(SEED + 1)
    print(f"kill matrix seed {SEED} (KILL_MATRIX_SEED={SEED} replays it)")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    killer = Killer()
    expected: dict[int, bytes] = {}
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        # A dead worker's lease runs out after 3 s, then the redelivered message is taken over.
        stack = make_cluster_stack(tmp_path / "stack", database, broker, moto_server,
                                   ASSEMBLE_LEASE_SECONDS="3", TMPDIR=str(scratch), FINALIZE_SETTLE_SECONDS="0.2")  # fmt: skip
        try:
            # Assembly only (no transcription competing for the two cores): stop the stack's
            # worker politely and start an assembler in its place.
            first = next(p for p in stack.processes if p.name == "worker")
            first.stop()
            stack.processes.remove(first)
            queues = ["assemble"]
            stack.add("worker-0", [RECORDPLUS, "worker", "--queues", *queues])
            for round_ in range(4):
                data = recordings[rng.randrange(len(recordings))]
                video_id = upload(stack, data, chunk_sizes=uneven_sizes(len(data), CHUNKS))
                expected[video_id] = data
                for kill in range(2):
                    threshold = round(rng.uniform(0.02, 0.9), 2)
                    if watch_progress(stack, video_id, threshold) is None:
                        break
                    worker = next(p for p in stack.processes if p.name.startswith("worker"))
                    killer.kill(stack, worker, f"video {video_id}: assembly at progress >= {threshold} (kill {kill + 1})")
                    stack.add(f"worker-{len(killer.kills)}", [RECORDPLUS, "worker", "--queues", *queues])
            assert len(killer.kills) >= 6, killer.kills
            assert_converged(stack, expected)
            killer.assert_no_leftover_processes()
            stack.stop()
            assert scratch_dirs(scratch) == [], "scratch folders of killed runs left behind"
        finally:
            stack.stop()
    print(f"seed {SEED}: {len(killer.kills)} kills:", *killer.kills, sep="\n  ")
