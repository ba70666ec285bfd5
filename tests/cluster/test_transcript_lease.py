"""Lease locking of transcription jobs on PostgreSQL, where row locks are real (SQLite, the
default test database, serialises writers and never exercises `select_for_update`).

Kills the mutants "lease locking never runs on PostgreSQL" / "the claim's row lock dropped":
two workers claim the same transcript at once and exactly one wins, the other having waited on
the row lock; once the lease lapses, a third claim takes it over (attempt 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, RECORDPLUS, cluster_env, fresh_postgres_database

pytestmark = pytest.mark.cluster


def test_it_lets_one_of_two_concurrent_claimers_win_on_postgresql(tmp_path: Path, moto_server: str) -> None:
    with fresh_postgres_database() as database_url:
        # Nothing here talks to the broker; migrate makes the bucket on moto.
        env = cluster_env(database_url, "amqp://guest:guest@127.0.0.1:1/unused", moto_server, "recordplus-lease-test")
        env["DJANGO_SETTINGS_MODULE"] = "recordplus.config.settings"
        migrated = subprocess.run([RECORDPLUS, "migrate"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert migrated.returncode == 0, migrated.stderr[-3000:]
        import psycopg

        with psycopg.connect(database_url, autocommit=True) as conn:
            (video_id,) = conn.execute(
                "INSERT INTO videos_video (public_id, title, description, status, error, progress, container, video_codec,"
                " audio_codec, content_type, source_key, video_key, thumbnail_key, audio_key, created_at, updated_at,"
                " assembly_attempts, has_audio) VALUES ('leasetest', 'talk', '', 'ready', '', 1, '', '', '', '', '', '', '',"
                " '', now(), now(), 0, true) RETURNING id"
            ).fetchone()
        done = subprocess.run(
            [sys.executable, "-m", "tests.cluster.lease_claimers", str(video_id)],
            env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["vendor"] == "postgresql"
    winners = [name for name in ("a", "b") if result[name] is not None]
    assert winners == ["a"], f"exactly the first claimer must win: {result}"
    assert result["b_waited_on_lock"], f"the second claimer must have waited on the row lock: {result}"
    assert result["reclaimed_attempts"] == 2 and result["status"] == "running" and result["attempts"] == 2, result
