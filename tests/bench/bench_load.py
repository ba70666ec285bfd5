"""Benchmark: many simulated recorders against one API, ramped until p99 chunk latency > 250 ms.

Not collected by pytest. Run from the repository root:

    uv run python tests/bench/bench_load.py [--mode embedded|cluster|both] [--seconds 60]
        [--steps 25,50,100,200,300,400,500] [--workers 2] [--source DIR]

Each recorder does what our web app does while recording: it creates a video, then sends one
piece a second as a raw `application/octet-stream` PATCH with `chunk_index` (312,500 bytes:
one second of a 2.5 Mbit/s recording; random bytes, ingest does not look inside them) on its
own keep-alive connection, for `--seconds`, then finalizes with `chunk_count`. Recorders start
at random phases within the first second. A piece is sent at its tick, or as soon as the
recorder's previous piece is answered (one uploader per recorder, like the web app), and its
latency counts from the tick: time spent queued behind a slow answer is part of it.

Each step N runs against a fresh server (its own data folder / database, vhost and bucket),
so steps do not inherit each other's rows or assembly work. The ramp stops at the first step
whose p99 crosses 250 ms (or whose errors pass 1 %). Reported per step: p50/p95/p99 chunk
latency, errors, the server's peak RSS (sum of its processes, sampled from /proc every
0.25 s; idle RSS before the load), the server's and the generator's CPU, and the whole
machine's CPU (on a shared 2-core machine other jobs show up there).

Modes: `embedded` is one `recordplus serve` (SQLite, disk); `cluster` is `recordplus serve
--workers N` on PostgreSQL, RabbitMQ and moto's S3 server (no assembler runs; finalize only
enqueues). The cluster services come from TEST_POSTGRES_URL / TEST_RABBITMQ_URL (a fresh
database and vhost per step, dropped after) and a moto server process started here.

`--source DIR` runs the server from another checkout's code (e.g. `git worktree add /tmp/base
933f4f4`; the same virtualenv, that tree's `services/*/src` first on PYTHONPATH), for a
before/after figure. A tree whose `serve` has no `--workers` is run as
`uvicorn recordplus.config.asgi:application --workers N` (said in the output).

The load generator is asyncio with raw streams (HTTP/1.1, Content-Length bodies), one task
per recorder, in this one process: its CPU is reported beside the server's, since both share
the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# A fresh PostgreSQL database and RabbitMQ vhost per step: the same helpers as the other benches.
from tests.bench.baselines import _postgres_database, _rabbitmq_vhost  # noqa: E402

PIECE_BYTES = 312_500  # one second at 2.5 Mbit/s
P99_LIMIT_MS = 250.0
MAX_ERROR_RATE = 0.01
REQUEST_TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parents[2]
RECORDPLUS = shutil.which("recordplus", path=str(Path(sys.executable).parent)) or "recordplus"
# Settings a caller's environment may hold that would change what is measured.
_DROPPED = ("RECORDPLUS_", "DATABASE_", "S3_", "BROKER_", "STORAGE_", "STREAM_", "ALLOW_", "WORKER_", "METRICS_", "QUOTA_", "RATE_")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- processes and /proc ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tree(pid: int) -> list[int]:
    """`pid` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [pid], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def _stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_http(port: int, path: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready on :{port}{path} within {timeout} s:\n{log.read_text(errors='replace')[-3000:]}")


# --- servers ----------------------------------------------------------------------------------


@dataclass
class Target:
    """A running API: where it listens, a token, and its top process (its tree is measured)."""

    port: int
    token: str
    proc: subprocess.Popen
    how: str
    worker: subprocess.Popen | None = None  # cluster mode, when asked for: an assemble worker


def _env(source: Path | None, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    env.update({
        "LOG_LEVEL": "warning",  # no access log line per request, as in the other hot-path benches
        "PYTHONUNBUFFERED": "1",
        "QUOTA_OPEN_VIDEOS": "1000000",  # one user holds every recorder's open video
        "QUOTA_BYTES": "0",
        "RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
        "FINALIZE_SETTLE_SECONDS": "3",
    })
    if source is not None:
        tree = [str(source / "services" / s / "src") for s in ("api", "assembler", "transcriber")]
        env["PYTHONPATH"] = os.pathsep.join([*tree, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def _has_workers_option(env: dict[str, str]) -> bool:
    done = subprocess.run([RECORDPLUS, "serve", "--help"], env=env, capture_output=True, text=True, timeout=60, check=False)
    return "--workers" in done.stdout


@dataclass
class Moto:
    port: int
    pid: int


@contextmanager
def moto_server(workdir: Path) -> Iterator[Moto]:
    """moto's S3 server in a process of its own (not sharing the generator's interpreter)."""
    port = free_port()
    log = workdir / "moto.log"
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"moto did not start: {log.read_text(errors='replace')[-2000:]}") from None
                time.sleep(0.2)
        yield Moto(port, proc.pid)
    finally:
        _stop(proc)


@contextmanager
def api_server(mode: str, workdir: Path, *, source: Path | None, workers: int, moto_port: int | None,
               worker: bool = False, **settings: str) -> Iterator[Target]:
    """A fresh API (embedded: a new data folder; cluster: a new database, vhost and bucket, and
    with `worker` an assemble worker process); `settings` are extra environment variables."""
    workdir.mkdir(parents=True)
    log = workdir / "server.log"
    with _cluster_settings(mode, moto_port) as extra:
        env = _env(source, {"RECORDPLUS_MODE": mode, "RECORDPLUS_DATA_DIR": str(workdir / "var"), **extra, **settings})
        if mode == "cluster":
            subprocess.run([RECORDPLUS, "migrate"], env=env, check=True, capture_output=True, cwd=workdir, timeout=300)
        made = subprocess.run([RECORDPLUS, "createuser", "bench"], env=env, check=True, capture_output=True,
                              text=True, cwd=workdir, timeout=300)  # fmt: skip
        token = made.stdout.strip().splitlines()[-1]
        port = free_port()
        if mode == "embedded" or workers <= 1:
            command, how = [RECORDPLUS, "serve", "--port", str(port)], "recordplus serve"
        elif _has_workers_option(env):
            command = [RECORDPLUS, "serve", "--port", str(port), "--workers", str(workers)]
            how = f"recordplus serve --workers {workers}"
        else:
            command = [sys.executable, "-m", "uvicorn", "recordplus.config.asgi:application", "--port", str(port),
                       "--workers", str(workers), "--lifespan", "off", "--log-level", "warning"]  # fmt: skip
            how = f"uvicorn --workers {workers} (this tree's serve has no --workers)"
        proc = subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=workdir)
        assembler = None
        if worker and mode == "cluster":
            assembler = subprocess.Popen([RECORDPLUS, "worker", "--queues", "assemble", "--metrics-port", "0"], env=env,
                                         stdout=(workdir / "worker.log").open("ab"), stderr=subprocess.STDOUT, cwd=workdir)  # fmt: skip
        try:
            _wait_http(port, "/readyz", proc, log)
            if mode == "cluster" and workers > 1:
                # The first answer may come from the first worker up: wait for all of them.
                deadline = time.monotonic() + 120
                while len(_tree(proc.pid)) < workers + 1 and time.monotonic() < deadline:
                    time.sleep(0.2)
                for _ in range(4 * workers):
                    _wait_http(port, "/readyz", proc, log)
            yield Target(port, token, proc, how, assembler)
        finally:
            if assembler is not None:
                _stop(assembler)
            _stop(proc)


@contextmanager
def _cluster_settings(mode: str, moto_port: int | None) -> Iterator[dict[str, str]]:
    if mode != "cluster":
        yield {}
        return
    with _postgres_database() as database_url, _rabbitmq_vhost() as broker_url:
        yield {
            "SECRET_KEY": "bench-secret",
            "DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "S3_BUCKET": f"recordplus-{uuid.uuid4().hex[:8]}",
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": "testing",
            "S3_SECRET_ACCESS_KEY": "testing",
            "S3_CREATE_BUCKET": "true",
        }


# --- the load generator -----------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: a request with a Content-Length body, one answer."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        try:
            self.writer.write(
                f"{method} {path} HTTP/1.1\r\n{self.head}Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            self.writer.write(body)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionError("connection closed before an answer")
            status = int(status_line.split()[1])
            length, chunked, close = 0, False, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
                elif name == b"connection" and value.strip().lower() == b"close":
                    close = True
            if chunked:
                parts = []
                while size := int((await self.reader.readline()).split(b";")[0], 16):
                    parts.append(await self.reader.readexactly(size + 2))
                await self.reader.readline()
                data = b"".join(p[:-2] for p in parts)
            else:
                data = await self.reader.readexactly(length)
            if close:
                self.close()
            return status, data
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class StepResult:
    recorders: int
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    finalized: int = 0
    finalize_ms: list[float] = field(default_factory=list)
    idle_rss_mib: float = 0.0
    peak_rss_mib: float = 0.0
    server_cpu: float = 0.0  # cores, averaged over the load
    moto_cpu: float | None = None
    client_cpu: float = 0.0
    machine_cpu: float = 0.0
    wall: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


async def _recorder(conn: Connection, video_id: int, start: float, seconds: int, piece: bytes, result: StepResult) -> None:
    loop = asyncio.get_running_loop()
    path = f"/api/record/videos/{video_id}/update_video_chunck?chunk_index="
    for index in range(seconds):
        tick = start + index
        delay = tick - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        result.sent += 1
        try:
            status, _ = await asyncio.wait_for(
                conn.request("PATCH", f"{path}{index}", piece, "application/octet-stream"), REQUEST_TIMEOUT
            )
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            result.error(type(exc).__name__)
            conn.close()
            continue
        if status != 200:
            result.error(f"HTTP {status}")
            continue
        result.latencies_ms.append((loop.time() - tick) * 1000)
    began = loop.time()
    try:
        status, _ = await asyncio.wait_for(
            conn.request("POST", f"/api/record/videos/{video_id}/finalize_video_upload/",
                         json.dumps({"chunk_count": seconds}).encode(), "application/json"),
            REQUEST_TIMEOUT,
        )  # fmt: skip
        if status == 200:
            result.finalized += 1
            result.finalize_ms.append((loop.time() - began) * 1000)
        else:
            result.error(f"finalize HTTP {status}")
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        result.error(f"finalize {type(exc).__name__}")
    conn.close()


async def _sample(pid: int, result: StepResult, stop: asyncio.Event) -> None:
    while not stop.is_set():
        result.peak_rss_mib = max(result.peak_rss_mib, sum(_rss_kib(p) for p in _tree(pid)) / 1024)
        try:
            await asyncio.wait_for(stop.wait(), 0.25)
        except TimeoutError:
            pass


async def run_step(target: Target, recorders: int, seconds: int, moto: Moto | None) -> StepResult:
    result = StepResult(recorders)
    piece = random.Random(recorders).randbytes(PIECE_BYTES)
    # Setup, not measured: each recorder's connection and video (16 at a time).
    conns = [Connection(target.port, target.token) for _ in range(recorders)]
    gate = asyncio.Semaphore(16)

    async def create(conn: Connection, number: int) -> int:
        async with gate:
            status, body = await conn.request("POST", "/api/record/videos/",
                                              json.dumps({"title": f"load {number}"}).encode(), "application/json")  # fmt: skip
            if status != 201:
                raise RuntimeError(f"create answered {status}: {body[:300]!r}")
            return json.loads(body)["video_id"]

    videos = await asyncio.gather(*(create(c, i) for i, c in enumerate(conns)))
    result.idle_rss_mib = sum(_rss_kib(p) for p in _tree(target.proc.pid)) / 1024
    pids = _tree(target.proc.pid)
    server_cpu0 = sum(_cpu_seconds(p) for p in pids)
    moto_cpu0 = _cpu_seconds(moto.pid) if moto else 0.0
    client0 = resource.getrusage(resource.RUSAGE_SELF)
    busy0, total0 = _machine_busy()
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(target.proc.pid, result, stop))
    loop = asyncio.get_running_loop()
    rng = random.Random(recorders * 7)
    began = loop.time() + 0.2
    await asyncio.gather(*(_recorder(c, v, began + rng.random(), seconds, piece, result) for c, v in zip(conns, videos)))
    result.wall = loop.time() - began
    stop.set()
    await sampler
    client1 = resource.getrusage(resource.RUSAGE_SELF)
    busy1, total1 = _machine_busy()
    result.server_cpu = (sum(_cpu_seconds(p) for p in pids) - server_cpu0) / result.wall
    if moto is not None:
        result.moto_cpu = (_cpu_seconds(moto.pid) - moto_cpu0) / result.wall
    result.client_cpu = (client1.ru_utime + client1.ru_stime - client0.ru_utime - client0.ru_stime) / result.wall
    cores = os.cpu_count() or 1
    result.machine_cpu = (busy1 - busy0) / (total1 - total0) * cores if total1 > total0 else 0.0
    return result


# --- the ramp ---------------------------------------------------------------------------------


def _row(r: StepResult, label: str = "") -> str:
    errors = f"{r.error_count}" + (f" ({', '.join(f'{k} {v}' for k, v in sorted(r.errors.items()))})" if r.errors else "")
    per_chunk = r.server_cpu / max(1e-9, len(r.latencies_ms) / r.wall) * 1000
    return (f"{label:<7}{r.recorders:>5} {len(r.latencies_ms) / r.wall:>7.0f} {r.percentile(50):>7.0f} {r.percentile(95):>7.0f} "
            f"{r.percentile(99):>7.0f} {r.idle_rss_mib:>6.0f} {r.peak_rss_mib:>6.0f} {r.server_cpu:>6.2f} {per_chunk:>6.1f} "
            f"{r.client_cpu:>6.2f} {'' if r.moto_cpu is None else f'{r.moto_cpu:.2f}':>6} {r.machine_cpu:>6.2f}  {errors}")  # fmt: skip


HEADER = (f"{'':<7}{'N':>5} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} {'idle':>6} {'peak':>6} {'server':>6} {'/chunk':>6} "
          f"{'client':>6} {'moto':>6} {'host':>6}  errors\n"
          f"{'':<7}{'':>5} {'':>7} {'ms':>7} {'ms':>7} {'ms':>7} {'MiB':>6} {'MiB':>6} {'cores':>6} {'ms CPU':>6} {'cores':>6} {'cores':>6} {'cores':>6}")  # fmt: skip


def _crossed(r: StepResult) -> bool:
    return r.percentile(99) > P99_LIMIT_MS or r.error_count > MAX_ERROR_RATE * max(1, r.sent)


def ramp(mode: str, steps: list[int], seconds: int, *, sources: list[tuple[str, Path | None]], workers: int,
         through: int = 0) -> dict[str, list[StepResult]]:
    """Each step against each source in turn (before/after side by side, under the same
    machine load); a source stops at its first crossing unless N is still below `through`."""
    workdir = Path(tempfile.mkdtemp(prefix=f"recordplus-bench-load-{mode}-"))
    results: dict[str, list[StepResult]] = {label: [] for label, _ in sources}
    done: set[str] = set()
    print(f"\n{mode}: {seconds} s per step, {PIECE_BYTES:,}-byte pieces, one a second per recorder", flush=True)
    try:
        with (moto_server(workdir) if mode == "cluster" else _nothing()) as moto:
            for number, recorders in enumerate(steps):
                for label, source in sources:
                    if label in done:
                        continue
                    folder = workdir / f"step-{number}-{label}"
                    with api_server(mode, folder, source=source, workers=workers,
                                    moto_port=moto.port if moto else None) as target:  # fmt: skip
                        if number == 0:
                            print(f"{label or mode}: {target.how}, code from {source or ROOT}", flush=True)
                        result = asyncio.run(run_step(target, recorders, seconds, moto))
                    if not any(results.values()):
                        print(HEADER, flush=True)
                    results[label].append(result)
                    print(_row(result, label), flush=True)
                    if _crossed(result) and recorders >= through:
                        done.add(label)
                    shutil.rmtree(folder, ignore_errors=True)
                if len(done) == len(sources):
                    break
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def summary(mode: str, results: list[StepResult]) -> str:
    under = []
    for r in results:  # the steps before the first crossing
        if _crossed(r):
            break
        under.append(r)
    crossed = next((r for r in results if _crossed(r)), None)
    best = f"N = {under[-1].recorders} held p99 ≤ {P99_LIMIT_MS:.0f} ms" if under else f"no step held p99 ≤ {P99_LIMIT_MS:.0f} ms"
    more = (f"; N = {crossed.recorders} crossed it (p99 {crossed.percentile(99):.0f} ms, {crossed.error_count} errors)"
            if crossed else "; the last step did not cross it (ramp further with --steps)")  # fmt: skip
    return f"{mode}: {best}{more}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("embedded", "cluster", "both"), default="both")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of recording per step (default 60)")
    parser.add_argument("--steps", default="10,25,50,100,200,300,400,500,600", help="recorder counts to ramp through")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes in cluster mode (default 2)")
    parser.add_argument("--source", type=Path, default=None, help="run the server from this checkout's code")
    parser.add_argument("--compare", type=Path, default=None,
                        help="also run each step against this checkout's code ('before'), right before this tree's ('after')")
    parser.add_argument("--through", type=int, default=0, help="keep ramping to this N even after p99 crossed 250 ms")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    cores = os.cpu_count()
    print(f"machine: {cores} cores, shared by the generator, the server"
          f"{', PostgreSQL, RabbitMQ and moto' if args.mode != 'embedded' else ''} and whatever else runs "
          f"('host' = the whole machine's busy cores during the step)")  # fmt: skip
    lines = []
    for mode in ("embedded", "cluster") if args.mode == "both" else (args.mode,):
        sources = [("before", args.compare), ("after", args.source)] if args.compare else [("", args.source)]
        results = ramp(mode, steps, args.seconds, sources=sources, workers=args.workers, through=args.through)
        lines += [summary(f"{mode} {label}".strip(), rows) for label, rows in results.items()]
    print()
    print(*lines, sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
