"""A second reconcile pass (or any duplicate message) never starts a second concurrent assembly
of the same video: the claim takes a lease, renewed while its worker lives, and a duplicate
waits until it has run out — on SQLite in-process, and on PostgreSQL, where the row lock is
real, with two threads claiming at the same instant."""

from __future__ import annotations

import json
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from recordplus.core import jobs, messaging
from recordplus.videos import services
from recordplus.videos.models import Video
from recordplus.videos.services import AssemblyClaim, NotYet
from tests.conftest import RECORDPLUS, ROOT, base_env, fresh_postgres_database


def assembling() -> Video:
    return Video.objects.create(
        title="dup", status=Video.Status.ASSEMBLING, finalized_at=timezone.now(), declared_chunks=1
    )


@pytest.mark.django_db(transaction=True)
def test_a_reconcile_pass_does_not_duplicate_a_running_assembly(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []
    monkeypatch.setattr(messaging, "send_assemble", lambda video_id, **_: sent.append(video_id))
    video = assembling()
    first = services.video_claim_for_assembly(video_id=video.pk)
    assert isinstance(first, AssemblyClaim)
    Video.objects.filter(pk=video.pk).update(updated_at=timezone.now() - timedelta(hours=1))  # looks stale
    assert services.video_reconcile(stale_seconds=60) == [] and sent == []  # its lease is alive
    duplicate = services.video_claim_for_assembly(video_id=video.pk)  # e.g. a message sent anyway
    assert isinstance(duplicate, NotYet) and duplicate.delay_seconds > 0
    assert Video.objects.get(pk=video.pk).assembly_attempts == 1
    # The worker died: once its lease has run out the job is taken over (and counted).
    Video.objects.filter(pk=video.pk).update(assembly_lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.video_reconcile(stale_seconds=60) == [video.pk]
    takeover = services.video_claim_for_assembly(video_id=video.pk)
    assert isinstance(takeover, AssemblyClaim) and takeover.attempt == 2
    # The first run's heartbeat no longer renews a lease it lost.
    assert services.video_renew_assembly_lease(video_id=video.pk, attempt=1) is False
    assert services.video_renew_assembly_lease(video_id=video.pk, attempt=2) is True


@pytest.mark.django_db(transaction=True)
def test_embedded_start_up_drops_the_leases_of_the_dead_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messaging, "send_assemble", lambda *a, **k: None)
    video = assembling()
    assert isinstance(services.video_claim_for_assembly(video_id=video.pk), AssemblyClaim)
    assert services.video_reconcile(stale_seconds=None) == [video.pk]
    assert isinstance(services.video_claim_for_assembly(video_id=video.pk), AssemblyClaim)


def test_the_heartbeat_renews_until_told_to_stop() -> None:
    calls: list[int] = []
    stopped = threading.Event()

    def renew() -> bool:
        calls.append(1)
        if len(calls) == 3:
            stopped.set()
            return False  # the claim was lost: stop renewing
        return True

    with jobs.heartbeat(renew, every=0.01):
        assert stopped.wait(30), "the heartbeat never ran"
    assert len(calls) == 3


CLAIM_TWICE = """
import json, threading
from django.db import connection
from django.utils import timezone
from recordplus.videos import services
from recordplus.videos.models import Video

video = Video.objects.create(title="dup", status="assembling", finalized_at=timezone.now(), declared_chunks=1)
barrier = threading.Barrier(2)
results = []

def claim():
    try:
        barrier.wait()
        results.append(type(services.video_claim_for_assembly(video_id=video.pk)).__name__)
    finally:
        connection.close()

threads = [threading.Thread(target=claim) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
stale = services.video_reconcile(stale_seconds=0)
print("RESULT " + json.dumps({"claims": sorted(results), "attempts": Video.objects.get(pk=video.pk).assembly_attempts, "reconciled": stale}))
"""


def test_two_simultaneous_claims_on_postgresql_give_one_assembly(tmp_path: Path) -> None:
    with fresh_postgres_database() as database:
        env = {**base_env(), "RECORDPLUS_MODE": "embedded", "RECORDPLUS_DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": database}
        run = lambda *args: subprocess.run(  # noqa: E731
            [RECORDPLUS, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        migrated = run("migrate")
        assert migrated.returncode == 0, migrated.stderr
        done = run("manage", "shell", "-c", CLAIM_TWICE)
        assert done.returncode == 0, done.stderr
        line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
        result = json.loads(line[len("RESULT "):])
    assert result == {"claims": ["AssemblyClaim", "NotYet"], "attempts": 1, "reconciled": []}
