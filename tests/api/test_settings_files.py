"""Settings from `.env.example`, a `.env` file and the environment, and what a bad one does to
each `recordplus` subcommand: one line naming the variable and what it accepts, exit code 2."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import RECORDPLUS, ROOT, base_env, free_port

PRINT = "from django.conf import settings; print(settings.MAX_CHUNKS, settings.S3_BUCKET, settings.ALLOW_ANONYMOUS)"


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any RecordPlus setting (base_env adds test ones)."""
    names = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines() if "=" in line}
    env = {k: v for k, v in base_env().items() if k not in names and not k.endswith("_FILE")}
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([RECORDPLUS, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def printed_settings(cwd: Path, env: dict[str, str], *args: str) -> list[str]:
    result = run([*args, "manage", "shell", "-c", PRINT], cwd, env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split()  # after Django's "N objects imported"


def wait_healthy(proc: subprocess.Popen, url: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited with {proc.returncode}\n{log.read_text(errors='replace')}"
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no /healthz within {timeout}s\n{log.read_text(errors='replace')}")


def test_it_serves_with_env_example_exported_as_written(tmp_path: Path) -> None:
    # What a user does with the file: export every line of it (RECORDPLUS_DATA_DIR=./var lands in cwd).
    port = free_port()
    script = f'set -a; . "{ROOT / ".env.example"}"; set +a; exec "{RECORDPLUS}" serve --port {port}'
    log = tmp_path / "serve.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=clean_env(), stdout=handle, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(proc, url, log)
        # The empty ALLOW_ANONYMOUS= keeps the embedded default (anonymous on loopback).
        assert httpx.get(f"{url}/api/record/videos", timeout=10).status_code == 200
        assert (tmp_path / "var" / "recordplus.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert "Traceback" not in output
    assert "lifespan" not in output, output


def test_it_reads_dot_env_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comments and blank lines are skipped\n\n"
        "MAX_CHUNKS=7\n"
        "export S3_BUCKET='from-dotenv'  \n"
        "ALLOW_ANONYMOUS=false # an inline comment\n"
        f"RECORDPLUS_DATA_DIR={tmp_path / 'var'}\n"
    )
    assert printed_settings(tmp_path, clean_env()) == ["7", "from-dotenv", "False"]
    # Set in the environment: it wins. Empty in the environment: unset, so the file applies.
    env = clean_env(S3_BUCKET="from-env", MAX_CHUNKS="")
    assert printed_settings(tmp_path, env) == ["7", "from-env", "False"]


def test_it_reads_the_env_file_it_is_given_instead(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MAX_CHUNKS=7\n")
    other = tmp_path / "other.env"
    other.write_text(f"S3_BUCKET=other\nRECORDPLUS_DATA_DIR={tmp_path / 'var'}\n")
    assert printed_settings(tmp_path, clean_env(), "--env-file", str(other)) == ["10000", "other", "True"]
    result = run(["migrate", "--env-file", str(other)], tmp_path, clean_env())
    assert result.returncode == 0, result.stderr


def test_it_treats_empty_values_as_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from recordplus.core.env import envbool, envchoice, envfloat, envint, envlist, envstr

    for name in ("E_BOOL", "E_INT", "E_FLOAT", "E_CHOICE", "E_LIST", "E_STR", "E_STR_FILE"):
        monkeypatch.setenv(name, "  ")
    assert envbool("E_BOOL", True) is True
    assert envint("E_INT", 3) == 3
    assert envfloat("E_FLOAT", 1.5) == 1.5
    assert envchoice("E_CHOICE", "a", ("a", "b")) == "a"
    assert envlist("E_LIST", "x,y") == ["x", "y"]
    assert envstr("E_STR", "default") == "default"


BAD = {
    "MAX_CHUNK_BYTES": ("lots", "is not an integer; use a whole number of at least 1"),
    "ALLOW_ANONYMOUS": ("maybe", "use true or false"),
    "STREAM_MODE": ("sideways", "must be one of redirect, proxy"),
    "FFMPEG_TIMEOUT_SECONDS": ("0", "must be at least 1"),
    "SECRET_KEY_FILE": ("/nonexistent/secret", "cannot be read"),
}

SUBCOMMANDS = {
    "serve": ["serve", "--port", "0"],
    "worker": ["worker", "--queues", "assemble"],
    "migrate": ["migrate"],
    "createuser": ["createuser", "carol"],
    "upload-url": ["upload-url"],
    "reconcile": ["reconcile"],
    "manage": ["manage", "check"],
}


def assert_one_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("recordplus: "), lines
    for word in words:
        assert word in lines[0], lines


@pytest.mark.parametrize("name", sorted(BAD))
def test_it_names_a_bad_setting_in_one_line(tmp_path: Path, name: str) -> None:
    value, words = BAD[name]
    result = run(["migrate"], tmp_path, clean_env(RECORDPLUS_DATA_DIR=str(tmp_path / "var"), **{name: value}))
    assert_one_line(result, name, words)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_it_exits_2_without_a_traceback_from_every_subcommand(tmp_path: Path, command: str) -> None:
    env = clean_env(RECORDPLUS_DATA_DIR=str(tmp_path / "var"), WORKER_THREADS="none")
    assert_one_line(run(SUBCOMMANDS[command], tmp_path, env), "WORKER_THREADS='none'", "whole number")


def test_it_names_bad_settings_from_the_env_file_and_the_file_itself(tmp_path: Path) -> None:
    env = clean_env(RECORDPLUS_DATA_DIR=str(tmp_path / "var"))
    (tmp_path / ".env").write_text("STREAM_MODE=sideways\n")
    assert_one_line(run(["migrate"], tmp_path, env), "STREAM_MODE='sideways'", "redirect, proxy")
    (tmp_path / ".env").write_text("MAX_CHUNKS=5\nthis is not a setting\n")
    assert_one_line(run(["migrate"], tmp_path, env), ".env:2", "expected NAME=value")
    assert_one_line(run(["--env-file", str(tmp_path / "missing.env"), "migrate"], tmp_path, env), "missing.env", "no such file")


def test_it_reports_transcriber_settings_when_serving(tmp_path: Path) -> None:
    env = clean_env(RECORDPLUS_DATA_DIR=str(tmp_path / "var"), WHISPER_BATCH_SIZE="0")
    assert_one_line(run(["serve", "--port", str(free_port())], tmp_path, env), "WHISPER_BATCH_SIZE=0", "at least 1")
    assert os.path.isdir(tmp_path / "var")  # got as far as the workers' settings, then stopped cleanly
