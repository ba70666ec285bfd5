"""What the hot-path benchmarks share: the servers they compare RecordPlus with, RecordPlus
itself, and the load generator. Not collected by pytest; imported by `bench_*.py`.

Baselines, started on loopback from temporary folders and stopped at the end of a run:

- nginx (Debian's `nginx-light`/`nginx`): `dav_methods PUT` for uploads, static files with
  `sendfile` for reads; as an unprivileged user when the bench runs as root.
- `@tus/server` + `@tus/file-store` (npm, installed into a cache folder under /tmp, never the
  repository) run by /usr/bin/node, with the small tus client below.
- moto's S3 server (a process of its own, so it does not share the bench's GIL), reached
  with boto3 `put_object` / `get_object`.
- RecordPlus: `recordplus serve`, embedded (SQLite, disk) or cluster (PostgreSQL, RabbitMQ,
  moto), with a bearer token, as a real API client sends.

The load generator is `http.client` on keep-alive connections, one thread per client, each
looping until a deadline. Its own CPU time is measured (`Load.client_cpu_per_request`): the
client's ceiling against nginx says whether a figure is the server's or the client's.
"""

from __future__ import annotations

import http.client
import json
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
TUS_CACHE = Path(os.environ.get("BENCH_TUS_DIR", "/tmp/recordplus-bench-tus"))
RECORDPLUS = shutil.which("recordplus", path=str(Path(sys.executable).parent)) or "recordplus"
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")
_DROPPED_PREFIXES = ("RECORDPLUS_", "DATABASE_", "S3_", "BROKER_", "STORAGE_", "STREAM_", "ALLOW_", "WORKER_", "METRICS_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(port: int, path: str = "/", *, timeout: float = 90, proc: subprocess.Popen | None = None) -> None:
    """Until something on `port` answers `path` with any HTTP status below 500."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} within {timeout} s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _unprivileged() -> tuple[int, int] | None:
    """(uid, gid) of `nobody` when running as root, so baselines do not run as root."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


def _give_to(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is None:
        return
    for folder, dirs, files in os.walk(path):
        os.chown(folder, *owner)
        for name in files:
            os.chown(os.path.join(folder, name), *owner)


# --- nginx ------------------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes {workers};
error_log {prefix}/error.log warn;
pid {prefix}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    types {{ video/webm webm; video/mp4 mp4; }}
    server {{
        listen 127.0.0.1:{port};
        root {prefix}/www;
        client_max_body_size 0;
        client_body_buffer_size 1m;
        location /upload/ {{
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw;
        }}
    }}
}}
"""


@dataclass
class Server:
    name: str
    port: int
    root: Path
    proc: subprocess.Popen | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def nginx(workers: int = 1) -> Iterator[Server]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        raise RuntimeError("nginx is not installed: apt-get install nginx-light")
    prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    (prefix / "www" / "upload").mkdir(parents=True)
    port = free_port()
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(workers=workers, prefix=prefix, port=port))
    owner = _unprivileged()
    _give_to(prefix, owner)
    kwargs: dict[str, Any] = {"user": owner[0], "group": owner[1]} if owner else {}
    proc = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=(prefix / "stderr.log").open("wb"), **kwargs,
    )
    try:
        wait_http(port, "/", proc=proc)
        yield Server("nginx", port, prefix / "www", proc)
    finally:
        _stop(proc)
        shutil.rmtree(prefix, ignore_errors=True)


def nginx_publish(server: Server, name: str, data: bytes) -> str:
    """Put `data` where nginx serves it statically; returns its path."""
    path = server.root / name
    path.write_bytes(data)
    _give_to(path.parent, _unprivileged())
    return f"/{name}"


# --- tus ---------------------------------------------------------------------------------------

TUS_SERVER_JS = """\
const http = require('http');
const {Server} = require('@tus/server');
const {FileStore} = require('@tus/file-store');
const [port, directory] = process.argv.slice(2);
const tus = new Server({path: '/files', datastore: new FileStore({directory})});
http.createServer((req, res) => tus.handle(req, res)).listen(Number(port), '127.0.0.1');
"""


def tus_install() -> Path:
    """@tus/server and @tus/file-store in TUS_CACHE (installed once with npm)."""
    if not (TUS_CACHE / "node_modules" / "@tus" / "file-store").exists():
        TUS_CACHE.mkdir(parents=True, exist_ok=True)
        (TUS_CACHE / "package.json").write_text('{"name": "recordplus-bench-tus", "private": true}')
        subprocess.run(["npm", "install", "--silent", "@tus/server", "@tus/file-store"], cwd=TUS_CACHE, check=True)
    (TUS_CACHE / "server.js").write_text(TUS_SERVER_JS)
    return TUS_CACHE


@contextmanager
def tus_server() -> Iterator[Server]:
    cache = tus_install()
    store = Path(tempfile.mkdtemp(prefix="bench-tus-"))
    owner = _unprivileged()
    _give_to(store, owner)
    port = free_port()
    kwargs: dict[str, Any] = {"user": owner[0], "group": owner[1]} if owner else {}
    proc = subprocess.Popen(
        ["/usr/bin/node", str(cache / "server.js"), str(port), str(store)],
        cwd=cache, stdout=subprocess.DEVNULL, stderr=(store.parent / f"{store.name}.log").open("wb"), **kwargs,
    )
    try:
        wait_http(port, "/files", proc=proc)
        versions = {}
        for package in ("server", "file-store"):
            meta = json.loads((cache / "node_modules" / "@tus" / package / "package.json").read_text())
            versions[package] = meta["version"]
        yield Server("tus", port, store, proc, extra=versions)
    finally:
        _stop(proc)
        shutil.rmtree(store, ignore_errors=True)


def tus_create(conn: http.client.HTTPConnection, total: int) -> str:
    """A new tus upload of `total` bytes; its path."""
    conn.request("POST", "/files", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(total), "Content-Length": "0"})
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        raise RuntimeError(f"tus create answered {response.status}")
    return urlsplit(response.getheader("Location")).path


# --- moto and boto3 ----------------------------------------------------------------------------


@contextmanager
def moto() -> Iterator[Server]:
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="bench-moto-", suffix=".log")[1])
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )
    try:
        wait_http(port, "/", proc=proc)
        yield Server("moto", port, log.parent, proc)
    finally:
        _stop(proc)
        log.unlink(missing_ok=True)


def s3_client(port: int) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(max_pool_connections=32, s3={"addressing_style": "path"}),
    )


# --- RecordPlus ----------------------------------------------------------------------------------


@dataclass
class RecordPlus:
    port: int
    token: str
    data_dir: Path
    procs: list[subprocess.Popen]
    env: dict[str, str]
    log: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def server_pid(self) -> int:
        return self.procs[0].pid


def _bench_env(data_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update({
        "RECORDPLUS_DATA_DIR": str(data_dir),
        "FINALIZE_SETTLE_SECONDS": "0",
        "LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


@contextmanager
def _postgres_database() -> Iterator[str]:
    import psycopg

    name = f"recordplus_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def _rabbitmq_vhost() -> Iterator[str]:
    ctl = os.environ.get("TEST_RABBITMQCTL") or shutil.which("rabbitmqctl") or "rabbitmqctl"
    broker = urlsplit(RABBITMQ_URL)
    vhost = f"recordplus-bench-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run([ctl, "set_permissions", "-p", vhost, broker.username or "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True, timeout=60)
    try:
        yield f"{broker.scheme}://{broker.netloc}/{vhost}"
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


@contextmanager
def recordplus(mode: str = "embedded", *, moto_port: int | None = None, worker: bool = False,
               **settings: str) -> Iterator[RecordPlus]:
    """`recordplus serve` (plus, in cluster mode with `worker`, an assemble worker) with a user
    and its token. Cluster mode needs PostgreSQL and RabbitMQ (TEST_POSTGRES_URL,
    TEST_RABBITMQ_URL) and a moto port."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-recordplus-{mode}-"))
    data_dir = workdir / "var"
    log = workdir / "server.log"
    procs: list[subprocess.Popen] = []
    with _cluster_services(mode, moto_port) as extra:
        env = _bench_env(data_dir, {"RECORDPLUS_MODE": mode, **extra, **settings})
        try:
            if mode == "cluster":
                subprocess.run([RECORDPLUS, "migrate"], env=env, check=True, capture_output=True, cwd=workdir)
            made = subprocess.run([RECORDPLUS, "createuser", f"bench{uuid.uuid4().hex[:6]}"], env=env,
                                  check=True, capture_output=True, text=True, cwd=workdir)
            token = made.stdout.strip().splitlines()[-1]
            port = free_port()
            server = subprocess.Popen([RECORDPLUS, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                      stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=workdir)
            procs.append(server)
            if worker and mode == "cluster":
                procs.append(subprocess.Popen([RECORDPLUS, "worker", "--queues", "assemble", "--metrics-port", "0"],
                                              env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=workdir))
            wait_http(port, "/healthz", proc=server)
            yield RecordPlus(port, token, data_dir, procs, env, log)
        finally:
            for proc in reversed(procs):
                _stop(proc)
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def _cluster_services(mode: str, moto_port: int | None) -> Iterator[dict[str, str]]:
    if mode != "cluster":
        yield {}
        return
    if moto_port is None:
        raise ValueError("cluster mode needs moto")
    with _postgres_database() as database_url, _rabbitmq_vhost() as broker_url:
        yield {
            "SECRET_KEY": "bench-secret",
            "DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
            "S3_BUCKET": f"recordplus-{uuid.uuid4().hex[:8]}",
            "S3_ACCESS_KEY_ID": "testing",
            "S3_SECRET_ACCESS_KEY": "testing",
            "S3_CREATE_BUCKET": "true",
            "RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
            "QUOTA_BYTES": "0",
        }


def json_call(port: int, method: str, path: str, *, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, body=body, headers={"Content-Length": str(len(body)), **(headers or {})})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 400:
        raise RuntimeError(f"{method} {path} answered {response.status}: {data[:300]!r}")
    return json.loads(data) if data else None


def new_video(rp: RecordPlus, title: str = "bench") -> int:
    body = json.dumps({"title": title}).encode()
    return json_call(rp.port, "POST", "/api/record/videos", body=body,
                     headers={**rp.auth, "Content-Type": "application/json"})["video_id"]


def ready_video(rp: RecordPlus, data: bytes, *, chunk: int = 4 * 1024 * 1024, timeout: float = 300) -> int:
    """Upload `data`, finalize and wait until the video is ready; its id."""
    video_id = new_video(rp)
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for index, piece in enumerate(pieces):
        json_call(rp.port, "PUT", f"/api/record/videos/{video_id}/update_video_chunck?chunk_index={index}",
                  body=piece, headers={**rp.auth, "Content-Type": "application/octet-stream"})
    json_call(rp.port, "POST", f"/api/record/videos/{video_id}/finalize_video_upload?chunk_count={len(pieces)}",
              headers=rp.auth)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = json_call(rp.port, "GET", f"/api/record/videos/{video_id}", headers=rp.auth)
        if detail["status"] == "ready":
            return video_id
        if detail["status"] == "failed":
            raise RuntimeError(f"video failed: {detail['error']}")
        time.sleep(0.2)
    raise RuntimeError("video not ready in time")


def make_video(path: Path, target_bytes: int = 8_600_000) -> bytes:
    """A WebM of about `target_bytes` (VP8 test pattern at a bitrate that lands near it)."""
    if not path.exists():
        seconds = 20
        bitrate = int(target_bytes * 8 / seconds * 1.04)
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
             "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}", "-c:v", "libvpx", "-deadline", "realtime",
             "-cpu-used", "8", "-b:v", str(bitrate), "-minrate", str(bitrate), "-maxrate", str(bitrate),
             "-an", "-f", "webm", str(path)],
            check=True,
        )
    return path.read_bytes()


# --- load generator ---------------------------------------------------------------------------


class Call:
    """One client's keep-alive connection; `request` returns (status, body length)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                *, keep_body: bool = False) -> tuple[int, bytes | int]:
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Length"] = str(len(body))
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        if keep_body:
            data = response.read()
            return response.status, data
        size = 0
        while piece := response.read(1024 * 1024):
            size += len(piece)
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
        return response.status, size

    def close(self) -> None:
        self.conn.close()


@dataclass
class Load:
    """Outcome of a load run: requests, payload bytes, wall seconds, client CPU seconds."""

    requests: int
    payload_bytes: int
    seconds: float
    client_cpu: float
    errors: int
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def mbps(self) -> float:
        return self.payload_bytes / self.seconds / 1e6

    @property
    def client_cpu_per_request(self) -> float:
        return self.client_cpu / max(self.requests, 1)

    def p(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Step = Callable[[int, int], tuple[bool, int]]  # (client, n) -> (ok, payload bytes)


def run_load(clients: int, seconds: float, make_step: Callable[[int], Step], *, max_requests: int = 10**7) -> Load:
    """Each of `clients` threads calls its step in a loop until `seconds` have passed (bounded by
    `max_requests` per client too). `make_step(client)` runs before the clock starts (setup)."""
    steps = [make_step(i) for i in range(clients)]
    counts = [0] * clients
    payload = [0] * clients
    errors = [0] * clients
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        start.wait()
        n = 0
        while time.perf_counter() < deadline[0] and n < max_requests:
            began = time.perf_counter()
            ok, size = steps[i](i, n)
            latencies[i].append(time.perf_counter() - began)
            n += 1
            if ok:
                counts[i] += 1
                payload[i] += size
            else:
                errors[i] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu0 = time.process_time()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return Load(sum(counts), sum(payload), wall, time.process_time() - cpu0, sum(errors),
                [x for group in latencies for x in group])


def merge(loads: list[Load]) -> Load:
    """Rounds of one server's runs as one result."""
    return Load(sum(x.requests for x in loads), sum(x.payload_bytes for x in loads), sum(x.seconds for x in loads),
                sum(x.client_cpu for x in loads), sum(x.errors for x in loads), [v for x in loads for v in x.latencies])


def interleaved(runs: dict[str, Callable[[float], Load]], seconds: float, rounds: int,
                pids: dict[str, int | None]) -> dict[str, tuple[Load, float | None]]:
    """Each run `rounds` times for `seconds / rounds`, the servers taking turns, so a machine whose
    background load changes during the bench skews every server alike; with each server's CPU."""
    parts: dict[str, list[Load]] = {name: [] for name in runs}
    cpu: dict[str, float] = {name: 0.0 for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            pid = pids.get(name)
            before = cpu_seconds(pid) if pid else 0.0
            parts[name].append(run(seconds / rounds))
            if pid:
                cpu[name] += cpu_seconds(pid) - before
    return {name: (merge(parts[name]), cpu[name] if pids.get(name) else None) for name in runs}


def seeded_ranges(size: int, piece: int, count: int, seed: int = 15) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    return [(start, start + piece - 1) for start in (rng.randrange(0, size - piece) for _ in range(count))]


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                found += children
                stack += children
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and its live descendants (nginx's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(fields[i]) for i in (11, 12)) / ticks
    return total


def table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = lambda row: "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
