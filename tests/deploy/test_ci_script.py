"""The CI scripts: each one parses, and .ci/services starts a private PostgreSQL and RabbitMQ
that really serve (a table written and read, a message through a fresh vhost) and leaves
nothing behind when stopped: no port open, no process, no temporary folder."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, require

SCRIPTS = ["run", "containers", "services", "bare-machine"]

# Starts the private servers, prints what the tests would read, then waits for a line on stdin
# before stopping them (the test uses the servers in between).
DRIVER = """
set -euo pipefail
. .ci/services
trap ci_services_stop EXIT
ci_services_start >&2
printf 'TEST_POSTGRES_URL=%s\\nTEST_RABBITMQ_URL=%s\\nTEST_RABBITMQCTL=%s\\nDIR=%s\\nEND\\n' \\
  "$TEST_POSTGRES_URL" "$TEST_RABBITMQ_URL" "$TEST_RABBITMQCTL" "$CI_SERVICES_DIR"
read -r _
"""


@pytest.mark.parametrize("script", SCRIPTS)
def test_it_parses(script: str) -> None:
    result = subprocess.run(["bash", "-n", str(ROOT / ".ci" / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


def test_it_starts_private_servers_and_leaves_nothing_behind(tmp_path: Path) -> None:
    require(bool(list(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), "PostgreSQL's server package (apt-get install postgresql)")
    require(os.path.exists("/usr/lib/rabbitmq/bin/rabbitmq-server"), "RabbitMQ (apt-get install rabbitmq-server)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env["TMPDIR"] = str(tmp_path)
    # As root the private PostgreSQL runs as `postgres`, which cannot traverse pytest's 0700
    # tmp root: .ci/services then falls back to a folder of its own under /tmp (checked below).
    driver = subprocess.Popen(
        ["bash", "-c", DRIVER], cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert driver.stdin is not None and driver.stdout is not None
    given: dict[str, str] = {}
    try:
        for line in driver.stdout:
            if line.strip() == "END":
                break
            name, _, value = line.strip().partition("=")
            given[name] = value
        assert set(given) == {"TEST_POSTGRES_URL", "TEST_RABBITMQ_URL", "TEST_RABBITMQCTL", "DIR"}, given
        pg, amqp = given["TEST_POSTGRES_URL"], given["TEST_RABBITMQ_URL"]
        # Not the machine's own servers: other ports.
        assert urlsplit(pg).port != 5432 and urlsplit(amqp).port != 5672

        import psycopg

        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute("CREATE TABLE probe (word text)")
            conn.execute("INSERT INTO probe VALUES ('stored')")
            assert conn.execute("SELECT word FROM probe").fetchall() == [("stored",)]
        # The password is required (no trust auth).
        no_password = pg.replace(f":{urlsplit(pg).password}@", "@")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(no_password, connect_timeout=10).close()

        import pika

        ctl = given["TEST_RABBITMQCTL"]
        subprocess.run([ctl, "add_vhost", "probe"], check=True, capture_output=True, timeout=60)
        subprocess.run([ctl, "set_permissions", "-p", "probe", "guest", ".*", ".*", ".*"], check=True, capture_output=True, timeout=60)
        connection = pika.BlockingConnection(pika.URLParameters(amqp.rstrip("/") + "/probe"))
        channel = connection.channel()
        channel.queue_declare("probe")
        channel.basic_publish("", "probe", b"through the private broker")
        deadline = time.monotonic() + 30
        body = None
        while body is None and time.monotonic() < deadline:
            _, _, body = channel.basic_get("probe", auto_ack=True)
        connection.close()
        assert body == b"through the private broker"
    finally:
        try:
            driver.stdin.write("stop\n")
            driver.stdin.close()
        except BrokenPipeError:
            pass  # the driver failed already; its stderr says why
        driver.wait(timeout=120)
    assert driver.returncode == 0
    assert not port_open(given["TEST_POSTGRES_URL"])
    assert not port_open(given["TEST_RABBITMQ_URL"])
    if os.geteuid() == 0:
        assert Path(given["DIR"]).parent == Path("/tmp"), given["DIR"]
    else:
        assert Path(given["DIR"]).is_relative_to(tmp_path), given["DIR"]
    assert not Path(given["DIR"]).exists()
    leftover = subprocess.run(["pgrep", "-f", given["DIR"]], capture_output=True, text=True).stdout.split()
    assert leftover == [], f"processes of the private servers still running: {leftover}"


def test_it_names_the_stage_switch_and_the_test_variables() -> None:
    run = (ROOT / ".ci/run").read_text()
    assert 'RECORDPLUS_CI_CONTAINERS:-1}" = 0' in run
    readme = (ROOT / "README.md").read_text()
    for name in ("TEST_POSTGRES_URL", "TEST_RABBITMQ_URL", "TEST_RABBITMQCTL", "RECORDPLUS_CI_CONTAINERS=0"):
        assert name in readme, name
    assert shutil.which("bash")
