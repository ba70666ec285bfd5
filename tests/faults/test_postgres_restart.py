"""PostgreSQL goes away and comes back under a running cluster-mode API.

While the database is down, every API call answers 503 JSON with a readable message and a
Retry-After (not a 500, not HTML), /readyz names the database; when it is back the same API
process serves again — no restart — and the data written before the outage is intact.
Runs on a private PostgreSQL (tests/faults/services.py), never the shared one.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import make_cluster_stack, fresh_rabbitmq_vhost
from tests.faults.services import private_postgres, wait_until
from tests.support import create_video, db_rows, send_chunk, stored_chunks

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def test_it_answers_503_while_the_database_is_down_and_recovers(tmp_path: Path, moto_server: str) -> None:
    with private_postgres() as postgres, fresh_rabbitmq_vhost() as broker_url:
        stack = make_cluster_stack(tmp_path / "stack", postgres.url, broker_url, moto_server)
        try:
            with stack.client() as client:
                video_id = create_video(client, title="before the outage")
                assert send_chunk(client, video_id, b"chunk before the outage", 0).status_code == 200

                postgres.stop("immediate")  # a crash, not a polite shutdown
                calls = {
                    "list": lambda: client.get("/api/record/videos/"),
                    "detail": lambda: client.get(f"/api/record/videos/{video_id}"),
                    "create": lambda: client.post("/api/record/videos/", data={"title": "during the outage"}),
                    "chunk": lambda: send_chunk(client, video_id, b"chunk during the outage", 1),
                }
                for name, call in calls.items():
                    response = call()
                    assert response.status_code == 503, (name, response.status_code, response.text[:500])
                    assert response.headers["content-type"].startswith("application/json"), name
                    assert "database" in response.json()["message"], (name, response.json())
                    assert int(response.headers["retry-after"]) > 0, name
                ready = httpx.get(f"{stack.url}/readyz", timeout=30)
                assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error"), ready.text

                postgres.start()
                # The same API process serves again once the database is back.
                wait_until(lambda: client.get("/api/record/videos/").status_code == 200, 60, "the API recovering")
                assert httpx.get(f"{stack.url}/readyz", timeout=30).status_code == 200
                assert client.get(f"/api/record/videos/{video_id}").json()["title"] == "before the outage"
                assert send_chunk(client, video_id, b"chunk after the outage", 1).status_code == 200
            stack.assert_alive()
            # Nothing of the refused calls was stored; what was sent before and after is.
            assert stored_chunks(stack, video_id) == [(0, b"chunk before the outage"), (1, b"chunk after the outage")]
            assert [t for (t,) in db_rows(stack, "SELECT title FROM videos_video ORDER BY id")] == ["before the outage"]
        finally:
            stack.stop()
