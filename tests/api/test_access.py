"""Who may call the API: tokens, anonymous use as a setting, CORS for extensions."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, Stack, make_embedded_stack

EXTENSION = "chrome-extension://" + "abcdefghijklmnopabcdefghijklmnop"


@pytest.fixture(scope="module")
def closed_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = make_embedded_stack(tmp_path_factory.mktemp("closed"), ALLOW_ANONYMOUS="false")
    yield stack
    stack.stop()


def test_it_requires_a_token_when_anonymous_use_is_off(closed_stack: Stack) -> None:
    with closed_stack.client() as client:
        refused = client.post("/api/record/videos/", data={"title": "x"})
        assert refused.status_code == 401
        assert "recordplus createuser" in refused.json()["message"]
        assert client.get("/api/record/videos/").status_code == 401
    token = closed_stack.create_user("carol")
    assert token.startswith("rp_")
    with closed_stack.client(token) as client:
        assert client.post("/api/record/videos/", data={"title": "mine"}).status_code == 201
        assert [v["title"] for v in client.get("/api/record/videos/").json()] == ["mine"]
    # Health stays open for probes.
    assert httpx.get(f"{closed_stack.url}/healthz").status_code == 200


def test_it_allows_chrome_extension_origins(stack: Stack) -> None:
    with stack.client() as client:
        preflight = client.options(
            "/api/record/videos/update_video_chunck",
            headers={
                "Origin": EXTENSION,
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == EXTENSION
        assert "PATCH" in preflight.headers["access-control-allow-methods"]
        assert "authorization" in preflight.headers["access-control-allow-headers"]
        other = client.get("/api/record/videos/", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def settings_value(name: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("RECORDPLUS_", "ALLOW_", "DATABASE_", "BROKER_"))}
    clean.update(env)
    code = f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, "DJANGO_SETTINGS_MODULE": "recordplus.config.settings"},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_it_defaults_anonymous_use_by_mode_and_address(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert settings_value("ALLOW_ANONYMOUS", RECORDPLUS_DATA_DIR=data) == "True"
    assert settings_value("ALLOW_ANONYMOUS", RECORDPLUS_DATA_DIR=data, RECORDPLUS_BIND_HOST="0.0.0.0") == "False"
    cluster = {
        "RECORDPLUS_MODE": "cluster",
        "SECRET_KEY": "s",
        "DATABASE_URL": "postgres://u@127.0.0.1/db",
        "BROKER_URL": "amqp://127.0.0.1",
    }
    assert settings_value("ALLOW_ANONYMOUS", **cluster) == "False"
    assert settings_value("ALLOW_ANONYMOUS", **cluster, ALLOW_ANONYMOUS="true") == "True"


def test_it_fails_loudly_on_bad_settings(tmp_path: Path) -> None:
    code = "import django; django.setup()"
    for env, words in (
        ({"MAX_CHUNK_BYTES": "lots"}, "MAX_CHUNK_BYTES='lots' is not an integer"),
        ({"RECORDPLUS_MODE": "cluster"}, "SECRET_KEY must be set"),
        ({"BROKER_URL": "redis://x"}, "must be memory:// or amqp"),
        ({"ALLOW_ANONYMOUS": "maybe"}, "is not a boolean"),
    ):
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "recordplus.config.settings", "RECORDPLUS_DATA_DIR": str(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0
        assert words in result.stderr, result.stderr
