"""Run by tests/cluster/test_transcript_lease.py in its own process, against PostgreSQL (the
test process's Django is configured for SQLite): two workers claim one transcript at once.

Claimer "a" is stopped inside its claim transaction (after it locked the row, before it
saved); claimer "b" then claims. With the row lock, "b" waits on PostgreSQL's lock until "a"
commits and then finds a live lease; without it, "b" claims too. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import timedelta


def main(video_id: int) -> None:
    import django

    django.setup()
    from django.db import connection, connections
    from django.utils import timezone

    from recordplus.transcripts import services
    from recordplus.transcripts.models import Transcript

    # A pending transcript, as transcript_request leaves it (without sending a message).
    Transcript.objects.create(video_id=video_id, status=Transcript.Status.PENDING)
    in_claim, release = threading.Event(), threading.Event()
    original_save = Transcript.save

    def gated_save(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if threading.current_thread().name == "claimer-a" and not release.is_set():
            in_claim.set()
            assert release.wait(60), "claimer a was never released"
        return original_save(self, *args, **kwargs)

    Transcript.save = gated_save  # type: ignore[method-assign]
    results: dict[str, object] = {}

    def claim(name: str) -> None:
        try:
            claimed = services.transcript_claim(video_id=video_id, lease_seconds=600, max_attempts=3)
            results[name] = None if claimed is None else claimed.attempts
        except BaseException as exc:  # reported to the test
            results[name] = f"error: {type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    a = threading.Thread(target=claim, args=("a",), name="claimer-a")
    a.start()
    assert in_claim.wait(60), "claimer a never reached its save"
    b = threading.Thread(target=claim, args=("b",), name="claimer-b")
    b.start()
    # Wait (with a deadline) until b is blocked on a row lock, or has already finished.
    b_waited_on_lock = False
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and b.is_alive():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] > 0:
                b_waited_on_lock = True
                break
        time.sleep(0.05)
    release.set()
    a.join(60)
    b.join(60)
    Transcript.save = original_save  # type: ignore[method-assign]

    # The lease lapses (the worker died): the next claimer takes it over.
    Transcript.objects.filter(video_id=video_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    reclaimed = services.transcript_claim(video_id=video_id, lease_seconds=600, max_attempts=3)
    row = Transcript.objects.get(video_id=video_id)
    print(json.dumps({
        "a": results.get("a"), "b": results.get("b"), "b_waited_on_lock": b_waited_on_lock,
        "reclaimed_attempts": None if reclaimed is None else reclaimed.attempts,
        "status": row.status, "attempts": row.attempts, "vendor": connection.vendor,
    }))  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]))
