"""/healthz, /readyz and the interactive API docs."""

from __future__ import annotations

from pathlib import Path

import time

import httpx

from tests.conftest import RECORDPLUS, Stack, cluster_env, free_port


def test_it_reports_live_and_ready(stack: Stack) -> None:
    assert httpx.get(f"{stack.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{stack.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "storage": "ok", "broker": "ok"}


def test_it_serves_openapi_and_docs(stack: Stack) -> None:
    spec = httpx.get(f"{stack.url}/api/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/record/videos",
        "/api/record/videos/update_video_chunck",
        "/api/record/videos/finalize_video_upload",
        "/api/record/videos/{video_id}",
        "/api/record/videos/{video_id}/stream_video",
        "/api/record/videos/{video_id}/upload",
    ):
        assert path in paths, path
    operation_ids = [op["operationId"] for path in paths.values() for op in path.values()]
    assert len(operation_ids) == len(set(operation_ids)), "operation ids must be unique"
    chunk_responses = paths["/api/record/videos/update_video_chunck"]["patch"]["responses"]
    assert {"200", "400", "404", "409", "413"} <= set(chunk_responses)
    docs = httpx.get(f"{stack.url}/api/docs")
    assert docs.status_code == 200
    assert "openapi.json" in docs.text
    css = httpx.get(f"{stack.url}/static/ninja/swagger-ui.css")
    assert css.status_code == 200
    assert "swagger" in css.text[:5000].lower()


def test_it_is_not_ready_without_its_broker(tmp_path: Path, postgres_database: str, moto_server: str) -> None:
    dead_broker = f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"  # nothing listens there
    env = cluster_env(postgres_database, dead_broker, moto_server, "readyz-probe")
    port = free_port()
    stack = Stack(mode="cluster", env=env, workdir=tmp_path, port=port)
    stack.add("api", [RECORDPLUS, "serve", "--port", str(port)])
    try:
        response = None
        deadline = time.monotonic() + 60
        while response is None and time.monotonic() < deadline:
            stack.assert_alive()
            try:
                response = httpx.get(f"{stack.url}/readyz", timeout=30)
            except httpx.HTTPError:
                time.sleep(0.3)
        assert response is not None, stack.logs()
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["storage"] == "ok"
        assert checks["broker"].startswith("error")
        assert httpx.get(f"{stack.url}/healthz").status_code == 200
    finally:
        stack.stop()
