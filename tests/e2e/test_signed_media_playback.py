"""A token user's video plays in a real browser from its signed URLs alone.

The page (headless Chromium, driven by playwright-core from `test_signed_media_playback.mjs`)
holds no token and sends none: `<video src=signed stream>` loads and plays, its `<track
src=signed VTT>` loads with the transcript's cues, `<img src=signed thumbnail>` shows, and the
plain stream URL of the same video fails (without the signature it is someone else's video). In
both modes: embedded (served from disk) and cluster (our signed URL redirects to presigned S3).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Stack
from tests.e2e.test_browser_recording import BrowserTools, browser_tools  # noqa: F401 - the shared fixture
from tests.support import upload
from tests.transcriber.fixtures import SENTENCES, make_video, require_tools, speak
from tests.transcriber.test_captions import parse_vtt

pytestmark = pytest.mark.e2e

DRIVER = Path(__file__).with_name("test_signed_media_playback.mjs")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def spoken_video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A few seconds of English speech over a test pattern: its transcript has cues."""
    require_tools("espeak-ng", "ffmpeg")
    folder = tmp_path_factory.mktemp("signed-e2e")
    speech = speak(SENTENCES[0], folder / "speech.wav", lead_silence=0.3)
    return make_video(speech, folder / "spoken.webm").read_bytes()


def transcribed(stack: Stack, video_id: int, token: str, timeout: float = 300) -> dict[str, Any]:
    """The video's detail once its transcript is done (failed: the test fails saying so)."""
    deadline = time.monotonic() + timeout
    detail: dict[str, Any] = {}
    with stack.client(token) as client:
        while time.monotonic() < deadline:
            detail = client.get(f"/api/record/videos/{video_id}").json()
            status = (detail.get("transcription") or {}).get("status")
            if status == "done":
                return detail
            assert status != "failed", detail["transcription"]
            stack.assert_alive()
            time.sleep(0.5)
    raise AssertionError(f"transcript of video {video_id} not done after {timeout}s: {detail}\n{stack.logs()}")


def play(tools: BrowserTools, base: str, urls: dict[str, Any], plain: str) -> dict[str, Any]:
    command = [
        tools.node, str(DRIVER), "--base", base, "--stream", urls["stream"], "--vtt", urls["transcript"]["vtt"],
        "--thumbnail", urls["thumbnail"], "--plain", plain, "--chromium", tools.chromium,
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    try:
        report = json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"driver exited {completed.returncode} without a report\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
    if completed.returncode != 0 or "error" in report:
        pytest.fail(f"browser run failed: {report.get('error')}\nstderr: {completed.stderr[-4000:]}")
    return report


def test_it_plays_a_token_users_video_and_captions_from_signed_urls(
    stack: Stack, browser_tools: BrowserTools, spoken_video: bytes  # noqa: F811 - the fixture
) -> None:
    token = stack.create_user(f"signed-e2e-{stack.mode}-{time.monotonic_ns()}")
    video_id = upload(stack, spoken_video, chunk_sizes=[len(spoken_video) // 2], token=token)
    assert stack.wait_for(video_id, token=token)["status"] == "ready"
    detail = transcribed(stack, video_id, token)
    urls = detail["signed_urls"]
    vtt = httpx.get(urls["transcript"]["vtt"], timeout=60)  # signed: no token needed here either
    assert vtt.status_code == 200, vtt.text
    expected_cues = parse_vtt(vtt.text)
    assert expected_cues, f"the transcript has no cues to show: {vtt.text!r}"

    report = play(browser_tools, stack.url, urls, detail["video_file"])
    playback = report["playback"]
    facts = json.dumps(playback, indent=1)

    # The page never had a token to send, and sent no credentials of any kind.
    api = urlsplit(stack.url).netloc
    to_api = [r for r in report["requests"] if urlsplit(r["url"]).netloc == api and "/api/" in r["url"]]
    assert to_api and all(r["authorization"] is None for r in to_api), to_api

    # <video src=signed stream> loaded and played.
    assert playback["videoEvent"] == "loadedmetadata", facts
    assert (playback["videoWidth"], playback["videoHeight"]) == (320, 240), facts
    assert abs(playback["duration"] - detail["duration"]) <= 0.5, facts
    assert playback["played"]["to"] >= playback["played"]["from"] + 0.5 and playback["played"]["frames"] > 0, facts

    # <track src=signed VTT> loaded, with the transcript's own cues.
    assert playback["trackEvent"] == "load" and playback["trackReadyState"] == 2, facts
    shown = [(round(c["start"], 2), round(c["end"], 2), c["text"]) for c in playback["cues"]]
    assert shown == [(round(s, 2), round(e, 2), text) for s, e, text in expected_cues], facts

    # <img src=signed thumbnail> decoded; the unsigned stream URL did not play.
    assert playback["thumbnail"]["event"] == "load" and playback["thumbnail"]["width"] > 0, facts
    assert playback["plain"]["event"] == "error", facts
    plain_statuses = [r["status"] for r in report["responses"] if r["url"] == detail["video_file"]]
    assert plain_statuses and set(plain_statuses) == {404}, report["responses"]

    if stack.mode == "cluster":  # the signed URL of ours redirected to presigned storage
        stream_statuses = [r["status"] for r in report["responses"] if r["url"] == urls["stream"]]
        assert 302 in stream_statuses, report["responses"]
    print(f"{stack.mode}: played {playback['played']}, {len(shown)} cues, duration {playback['duration']}")
