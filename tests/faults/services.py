"""Private, throwaway service instances for the fault tests, on loopback ports of their own.

The shared PostgreSQL (5432) and RabbitMQ (5672) are never stopped or reconfigured: a test
that restarts a service restarts its own copy, started here under its tmp dir and stopped
(and its processes reaped) when the test ends.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port, port_open
from tests.needs import require


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster in `root`, listening on 127.0.0.1:`port` only, trust auth."""

    bin: Path
    root: Path
    port: int
    user: str | None  # run as this OS user (initdb refuses root)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        done = self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "postgres.log"), "-o", options, "-w", "start")
        assert done.returncode == 0, done.stderr + done.stdout
        assert port_open("127.0.0.1", self.port)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started private PostgreSQL cluster, stopped (immediately) and removed at the end.

    Its folder is a fresh one directly under the system temp dir: pytest's own tmp folders are
    private to root, and the server runs as the postgres user."""
    bin_dir = _postgres_bin()
    require(bin_dir is not None, "PostgreSQL server binaries (/usr/lib/postgresql/*/bin, Debian postgresql)")
    user = None
    if os.geteuid() == 0:
        require(shutil.which("runuser") is not None, "runuser (to run a private PostgreSQL as the postgres user)")
        user = "postgres"
    root = Path(tempfile.mkdtemp(prefix="recordplus-fault-pg-"))
    server = PrivatePostgres(bin_dir, root, free_port(), user)  # type: ignore[arg-type]
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.data.exists() and server.running():
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


def wait_until(predicate, timeout: float, what: str, interval: float = 0.2):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {timeout}s (last: {last!r})")


@dataclass
class PrivateRabbitMQ:
    """A RabbitMQ node of its own: own node name, AMQP, distribution and epmd ports, and its
    data, logs and Erlang cookie under `root` (owned by the rabbitmq user it drops to)."""

    root: Path
    port: int
    dist_port: int
    epmd_port: int
    name: str = "recordplus-fault@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.root),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_PID_FILE": str(self.root / "pid"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.root / "feature_flags"),
        }

    def start(self) -> None:
        log = open(self.root / "server.log", "ab")
        self.process = subprocess.Popen(["rabbitmq-server"], env=self.env(), cwd=self.root, stdout=log, stderr=log)
        wait_until(lambda: port_open("127.0.0.1", self.port) or self.process.poll() is not None, 90, "RabbitMQ starting")
        assert self.process.poll() is None, (self.root / "server.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "-n", self.name, "shutdown"], env=self.env(), capture_output=True, timeout=120)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def kill_epmd(self) -> None:
        """The epmd this node started on its private port (never the system's)."""
        epmd = shutil.which("epmd") or next(iter(sorted(glob.glob("/usr/lib/erlang/erts-*/bin/epmd"))), None)
        if epmd:
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=30)


@contextmanager
def private_rabbitmq() -> Iterator[PrivateRabbitMQ]:
    """A started private RabbitMQ node, shut down (with its epmd) and removed at the end."""
    require(shutil.which("rabbitmq-server") is not None, "rabbitmq-server (Debian rabbitmq-server)")
    root = Path(tempfile.mkdtemp(prefix="recordplus-fault-rmq-"))
    (root / "mnesia").mkdir()
    (root / "log").mkdir()
    (root / "enabled_plugins").write_text("[].\n")
    if os.geteuid() == 0:  # rabbitmq-server drops to the rabbitmq user when started as root
        entry = pwd.getpwnam("rabbitmq")
        for path in (root, root / "mnesia", root / "log", root / "enabled_plugins"):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    node = PrivateRabbitMQ(root, free_port(), free_port(), free_port())
    try:
        node.start()
        yield node
    finally:
        if getattr(node, "process", None) is not None and node.process.poll() is None:
            node.stop()
        node.kill_epmd()
        shutil.rmtree(root, ignore_errors=True)
