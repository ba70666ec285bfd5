"""kill -9 at seeded random points: the embedded server during upload, assembly and
transcription, a cluster worker during assembly, the cluster transcriber during transcription.
Every kill point is an event, never a moment in time — after the Nth chunk's answer, right after
finalize, on seeing the assembly's progress pass a drawn threshold (in a run later than the one
killed before), on seeing the transcription `running`, on seeing a live window claimed — drawn
by random.Random(seed); the seed is printed (KILL_MATRIX_SEED replays it).

After each kill the process is started again (the embedded server's reconciler re-enqueues its
unfinished work; RabbitMQ redelivers the cluster worker's unacked message once its lease runs
out, a live window's once LIVE_LEASE_SECONDS has). Then every video must be `ready`, its stored
original byte-exact to the uploaded bytes, no object outside a live video's prefix (and no
chunk or open multipart upload left over), no process the killed one had started still running
(ffmpeg dies with its parent), no scratch folder left behind, and (embedded, and the cluster
transcriber's run) every transcription `done`.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import (
    RECORDPLUS,
    Process,
    Stack,
    embedded_env,
    free_port,
    fresh_postgres_database,
    fresh_rabbitmq_vhost,
    make_cluster_stack,
)
from tests.faults.services import wait_until
from tests.support import (
    create_video,
    db_rows,
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
# 13 + 7 + 5 = 25 kill points at least, across upload, assembly and transcription.
EMBEDDED_KILLS = 13
CLUSTER_KILLS = 7
TRANSCRIBER_KILLS = 5
RECORDINGS_TRANSCRIBED = 3  # uploaded with chunk_index: transcribed window by window (issue 11)


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


def attempts(stack: Stack, video_id: int) -> int:
    ((count,),) = db_rows(stack, "SELECT assembly_attempts FROM videos_video WHERE id = %s", (video_id,))
    return int(count)


def watch_progress(stack: Stack, video_id: int, threshold: float, after_attempt: int = 0, timeout: float = 240) -> int | None:
    """The claim's attempt number once a run later than `after_attempt` has claimed the video
    and its assembly progress reached `threshold`; None when the assembly ended first."""
    deadline = time.monotonic() + timeout
    with stack.client() as client:
        while time.monotonic() < deadline:
            video = client.get(f"/api/record/videos/{video_id}").json()
            if video["status"] != "assembling":
                return None
            if video["progress"] >= threshold and (attempt := attempts(stack, video_id)) > after_attempt:
                return attempt
            time.sleep(0.02)
    raise AssertionError(f"video {video_id} made no progress to {threshold}\n{stack.logs()}")


def watch_transcription_running(stack: Stack, video_id: int, timeout: float = 240) -> bool:
    """True once the video's transcription is `running`; False when it ended before we saw it."""
    deadline = time.monotonic() + timeout
    with stack.client() as client:
        while time.monotonic() < deadline:
            video = client.get(f"/api/record/videos/{video_id}").json()
            status = (video.get("transcription") or {}).get("status")
            if status == "running":
                return True
            if status in ("done", "failed") or video["status"] == "failed":
                return False
            time.sleep(0.02)
    raise AssertionError(f"the transcription of video {video_id} never started\n{stack.logs()}")


def transcriptions(stack: Stack, expected: dict[int, bytes]) -> dict[int, str | None]:
    with stack.client() as client:
        return {v: (client.get(f"/api/record/videos/{v}").json().get("transcription") or {}).get("status") for v in expected}


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
    # A video transcribed live has no audio.wav: its audio was decoded while its chunks arrived.
    live = {row[0] for row in db_rows(stack, "SELECT video_id FROM transcripts_livetranscript")}
    for video_id, prefix in zip(expected, prefixes):
        names = {k[len(prefix):] for k in keys if k.startswith(prefix)}
        wanted = {"source.bin", "video.webm", "thumbnail.jpg"} | (set() if video_id in live else {"audio.wav"})
        assert wanted <= names, (prefix, names)
    if stack.mode == "cluster":
        assert stack.s3.list_multipart_uploads(Bucket=stack.bucket).get("Uploads", []) == []


def scratch_dirs(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith(("recordplus-assemble-", "recordplus-transcribe-")))


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("media")
    return [make_webm(folder / f"k{i}.webm", seconds=8 + 2 * i, size="960x540", bitrate="1500k").read_bytes() for i in range(3)]


def test_embedded_server_killed_during_upload_and_assembly(tmp_path: Path, recordings: list[bytes]) -> None:
    rng = random.Random(SEED)
    print(f"kill matrix seed {SEED} (KILL_MATRIX_SEED={SEED} replays it)")
    data_dir, scratch = tmp_path / "var", tmp_path / "tmp"
    scratch.mkdir()
    # A transcription may be killed several times (its own kill point, then the next round's
    # while it still runs): more attempts than kills, so the poison-message cap (3 by default,
    # tests/assembler/test_poison_messages.py) does not end it `failed` here.
    env = embedded_env(data_dir, FINALIZE_SETTLE_SECONDS="0.2", TMPDIR=str(scratch), TRANSCRIBE_MAX_ATTEMPTS="10")
    stack = Stack(mode="embedded", env=env, workdir=tmp_path, data_dir=data_dir)
    killer = Killer()
    expected: dict[int, bytes] = {}

    def server() -> Process:
        return next(p for p in stack.processes if p.name == "api")

    def restart() -> None:
        stack.start_server()

    stack.start_server()
    try:
        round_ = 0
        while len(killer.kills) < EMBEDDED_KILLS and round_ < 10:  # one upload kill a round, at least
            round_ += 1
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
            if rng.random() < 0.5 and watch_transcription_running(stack, video_id):
                killer.kill(stack, server(), f"video {video_id}: transcription running")
                restart()
        assert len(killer.kills) >= EMBEDDED_KILLS, killer.kills
        assert_converged(stack, expected)
        # The transcriptions converge too (the start-up reconciler re-enqueues a killed one).
        wait_until(lambda: set(transcriptions(stack, expected).values()) <= {"done", "failed"}, 300,
                   "every transcription ending")  # fmt: skip
        assert set(transcriptions(stack, expected).values()) == {"done"}, transcriptions(stack, expected)
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
            round_ = 0
            while len(killer.kills) < CLUSTER_KILLS and round_ < 8:
                round_ += 1
                data = recordings[rng.randrange(len(recordings))]
                video_id = upload(stack, data, chunk_sizes=uneven_sizes(len(data), CHUNKS))
                expected[video_id] = data
                attempt = 0
                for _ in range(2):  # killed twice in a row, the second time in the run that took over
                    threshold = round(rng.uniform(0.02, 0.9), 2)
                    attempt = watch_progress(stack, video_id, threshold, after_attempt=attempt)
                    if attempt is None:
                        break
                    worker = next(p for p in stack.processes if p.name.startswith("worker"))
                    killer.kill(stack, worker, f"video {video_id}: assembly attempt {attempt} at progress >= {threshold}")
                    stack.add(f"worker-{len(killer.kills)}", [RECORDPLUS, "worker", "--queues", *queues])
            assert len(killer.kills) >= CLUSTER_KILLS, killer.kills
            assert_converged(stack, expected)
            killer.assert_no_leftover_processes()
            stack.stop()
            assert scratch_dirs(scratch) == [], "scratch folders of killed runs left behind"
        finally:
            stack.stop()
    print(f"seed {SEED}: {len(killer.kills)} kills:", *killer.kills, sep="\n  ")


def finishing(stack: Stack) -> bool:
    """Whether a transcript is being completed from its windows right now (`running`): a kill
    then would leave it to its whole-file lease (TRANSCRIBE_TIME_LIMIT + 120 s), too long here."""
    ((count,),) = db_rows(stack, "SELECT COUNT(*) FROM transcripts_transcript WHERE status = 'running'")
    return int(count) > 0


def watch_window_claim(stack: Stack, nth: int, seen: dict[tuple[int, int], int], ended: Callable[[], bool],
                       timeout: float = 240) -> tuple[int, int, int] | None:
    """(video, window index, attempt) of the `nth` live-window claim not seen before (`seen`:
    (video, index) -> the last attempt watched, updated); None once `ended()`."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        rows = db_rows(stack, "SELECT video_id, \"index\", attempts FROM transcripts_livewindow WHERE status = 'running'")
        for video_id, index, attempt in sorted(rows):
            if attempt > seen.get((video_id, index), 0) and not finishing(stack):
                seen[video_id, index] = attempt
                count += 1
                if count >= nth:
                    return video_id, index, attempt
        if ended():
            return None
        time.sleep(0.05)
    raise AssertionError(f"no live window was claimed\n{stack.logs()}")


def test_cluster_transcriber_killed_during_transcription(tmp_path: Path, recordings: list[bytes], moto_server: str) -> None:
    """Catches a transcription that a killed transcriber leaves for good (a live window left
    `running` with no one on it or never redone, the transcript never completed from its
    windows), one lost or stored twice, and a killed job's scratch folder or child left behind.

    The cluster transcribes an upload sent with chunk_index window by window (issue 11) on the
    transcribe queue: the transcriber is killed as it claims a window (the first or second new
    claim seen, drawn), again and again, so some windows are killed in the attempt that took
    them over from a killed one. (A whole-file job killed in a cluster waits out its
    lease, TRANSCRIBE_TIME_LIMIT + 120 s, before it is taken over: too long for this matrix;
    tests/transcriber/test_lease_length.py holds that lease, the embedded test above kills a
    running transcription.)"""
    rng = random.Random(SEED + 2)
    print(f"kill matrix seed {SEED} (KILL_MATRIX_SEED={SEED} replays it)")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    killer = Killer()
    expected: dict[int, bytes] = {}
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        # Short windows (several per recording) with short leases. A kill never lands while a
        # transcript is being completed (see `finishing`); should one, a 120 s time limit keeps
        # its lease (limit + 120 s) within the final wait.
        stack = make_cluster_stack(
            tmp_path / "stack", database, broker, moto_server, TMPDIR=str(scratch), FINALIZE_SETTLE_SECONDS="0.2",
            ASSEMBLE_LEASE_SECONDS="3", LIVE_LEASE_SECONDS="5", LIVE_WINDOW_MIN_SECONDS="2", LIVE_WINDOW_MAX_SECONDS="4",
            TRANSCRIBE_TIME_LIMIT="120", TRANSCRIBE_MAX_ATTEMPTS="10", LIVE_MAX_ATTEMPTS="10",
        )  # fmt: skip
        try:
            # The assembler is never killed here; the transcriber is, and is started anew.
            first = next(p for p in stack.processes if p.name == "worker")
            first.stop()
            stack.processes.remove(first)
            # Two workers at once: each needs a metrics port of its own.
            assembler = stack.add("assembler", [RECORDPLUS, "worker", "--queues", "assemble"], WORKER_METRICS_PORT=str(free_port()))

            def kill_transcriber(point: str) -> None:
                killer.kill(stack, next(p for p in stack.processes if p.name.startswith("transcriber")), point)
                stack.add(f"transcriber-{len(killer.kills)}", [RECORDPLUS, "worker", "--queues", "transcribe"])

            first_transcriber = stack.add("transcriber-0", [RECORDPLUS, "worker", "--queues", "transcribe"])
            # The live path starts only if the decoder (assemble queue) reads the chunks while the
            # upload is still going on: uploaded earlier, a video is transcribed as a whole file.
            for worker in (assembler, first_transcriber):
                wait_until(lambda w=worker: "consuming" in w.log.read_text(errors="replace"), 120, f"{worker.name} consuming")

            chosen = [recordings[rng.randrange(len(recordings))] for _ in range(RECORDINGS_TRANSCRIBED)]

            def upload_all() -> dict[int, bytes]:
                return {upload(stack, data, chunk_sizes=uneven_sizes(len(data), CHUNKS)): data for data in chosen}

            def ended(uploads: Future) -> bool:
                return uploads.done() and set(transcriptions(stack, uploads.result()).values()) <= {"done", "failed"}

            # Watched from the first upload on: a transcriber claims a window before it loads its
            # engine (seconds), and each one started after a kill claims two at once (WORKER_THREADS).
            seen: dict[tuple[int, int], int] = {}
            with ThreadPoolExecutor(1) as pool:
                uploads = pool.submit(upload_all)
                while len(killer.kills) < TRANSCRIBER_KILLS:
                    nth = rng.choice((1, 2))  # the first new claim seen, or the second
                    claim = watch_window_claim(stack, nth, seen, lambda: ended(uploads))
                    if claim is None:
                        break
                    video_id, index, attempt = claim
                    taken_over = " (taken over from a killed one)" if attempt > 1 else ""
                    kill_transcriber(f"video {video_id}: live window {index}, attempt {attempt}{taken_over}")
                expected.update(uploads.result())
            assert len(killer.kills) >= TRANSCRIBER_KILLS, killer.kills
            assert_converged(stack, expected)
            wait_until(lambda: set(transcriptions(stack, expected).values()) <= {"done", "failed"}, 420,
                       "every transcription ending")  # fmt: skip
            assert set(transcriptions(stack, expected).values()) == {"done"}, transcriptions(stack, expected)
            windows = db_rows(stack, "SELECT video_id, \"index\", status FROM transcripts_livewindow WHERE status <> 'done'")
            assert windows == [], f"live windows left unfinished: {windows}"
            with stack.client() as client:
                for video_id in expected:
                    transcript = client.get(f"/api/record/videos/{video_id}/transcript")
                    assert transcript.status_code == 200, (video_id, transcript.text)
            killer.assert_no_leftover_processes()
            stack.stop()
            assert scratch_dirs(scratch) == [], "scratch folders of killed runs left behind"
        finally:
            stack.stop()
    print(f"seed {SEED}: {len(killer.kills)} kills:", *killer.kills, sep="\n  ")
