"""`recordplus createuser NAME --password-stdin` gives the user a web app password."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password

from tests.conftest import RECORDPLUS, ROOT, embedded_env


def _createuser(data_dir: Path, *args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [RECORDPLUS, "createuser", *args], input=stdin, env=embedded_env(data_dir), cwd=ROOT,
        capture_output=True, text=True, timeout=120, check=False,
    )


def _stored_hash(data_dir: Path, name: str) -> str:
    with sqlite3.connect(data_dir / "recordplus.sqlite3") as db:
        return db.execute("SELECT password FROM auth_user WHERE username = ?", (name,)).fetchone()[0]


def test_it_sets_the_password_read_from_stdin(tmp_path: Path) -> None:
    done = _createuser(tmp_path, "carol", "--password-stdin", stdin="s3cret-enough\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("rp_")  # the token, as before
    assert check_password("s3cret-enough", _stored_hash(tmp_path, "carol"))


def test_it_refuses_a_short_password_and_says_why(tmp_path: Path) -> None:
    done = _createuser(tmp_path, "dave", "--password-stdin", stdin="short\n")
    assert done.returncode == 2
    assert "at least 8 characters" in done.stderr
    assert not check_password("short", _stored_hash(tmp_path, "dave"))


@pytest.mark.parametrize("args", [(), ("--token-name", "laptop")])
def test_it_sets_no_password_unless_asked(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = _createuser(tmp_path, "erin", *args, stdin="")
    assert done.returncode == 0, done.stderr
    assert _stored_hash(tmp_path, "erin").startswith("!")  # unusable: no web sign-in
