"""A real browser records, streams its chunks to the API, and plays back what the assembler made.

Headless Chromium (Debian's, driven by playwright-core from `record_and_play.mjs`) records an
animated canvas plus a WebAudio track with MediaRecorder (1 s timeslice), uploads every chunk with
its `chunk_index` the moment it exists, finalizes, waits for `ready`, then plays `stream_video` in a
`<video>` element. The canvas paints the recording clock as big blocks, so after seeking to the
middle the test reads the decoded frame and checks it really shows the middle of the recording.

Runs against both stacks: embedded (files served by the API) and cluster (302 to a presigned moto
S3 URL that the browser follows).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.needs import require

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("record_and_play.mjs")
RECORD_SECONDS = 6
TIMESLICE_MS = 1000
READY_TIMEOUT_S = 180
# How far the played-back duration, and the frame shown after a seek, may be from the recording.
TOLERANCE_S = 0.5

CODECS = {
    "vp8": "video/webm;codecs=vp8,opus",
    "vp9": "video/webm;codecs=vp9,opus",
}


@dataclass(frozen=True)
class BrowserTools:
    """What the driver needs: Node.js and the real Chromium binary (the launcher's target)."""

    node: str
    chromium: str


@pytest.fixture(scope="session")
def browser_tools() -> BrowserTools:
    """Find node, Debian's chromium and the installed playwright-core; fail under CI if absent."""
    node = shutil.which("node")
    chromium = shutil.which("chromium")
    missing = []
    if node is None:
        missing.append("node (apt-get install -y nodejs)")
    if chromium is None:
        missing.append("chromium (apt-get install -y chromium)")
    if not (ROOT / "node_modules" / "playwright-core" / "package.json").is_file():
        missing.append(f"node_modules/playwright-core (run `npm ci` in {ROOT})")
    require(not missing, "browser end-to-end test needs: " + ", ".join(missing))
    assert node is not None and chromium is not None
    return BrowserTools(node=node, chromium=os.path.realpath(chromium))


def record_and_play(tools: BrowserTools, base_url: str, mime_type: str) -> dict[str, Any]:
    """Run the browser driver once against `base_url`; return its JSON report (fail on error)."""
    command = [
        tools.node, str(DRIVER),
        "--base", base_url,
        "--mime", mime_type,
        "--seconds", str(RECORD_SECONDS),
        "--timeslice-ms", str(TIMESLICE_MS),
        "--ready-timeout", str(READY_TIMEOUT_S),
        "--chromium", tools.chromium,
    ]
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=READY_TIMEOUT_S + 120, check=False
    )
    try:
        report = json.loads(completed.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(
            f"driver exited {completed.returncode} without a JSON report\n"
            f"stdout: {completed.stdout[-2000:]}\nstderr: {completed.stderr[-4000:]}"
        )
    if completed.returncode != 0 or "error" in report:
        pytest.fail(
            f"browser run failed: {report.get('error')}\n"
            f"video detail: {json.dumps(report.get('detail'), indent=1)}\n"
            f"stderr: {completed.stderr[-4000:]}"
        )
    return report


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_it_records_uploads_and_plays_back_a_seekable_video(stack: Any, browser_tools: BrowserTools, codec: str) -> None:
    mime_type = CODECS[codec]
    report = record_and_play(browser_tools, stack.url, mime_type)
    recording, detail, playback = report["recording"], report["detail"], report["playback"]
    recorded = recording["recordedSeconds"]
    facts = json.dumps({"recording": recording, "detail": detail, "playback": playback}, indent=1)

    def why(reason: str) -> str:
        """The failed expectation first, then everything the run learnt."""
        return f"{stack.mode}/{codec}: {reason}\n{facts}"

    # MediaRecorder produced the asked-for format, one chunk per timeslice, all uploaded with
    # contiguous indices, and uploads started while the recording was still going.
    assert recording["recorderMimeType"].replace(" ", "") == mime_type, why("MediaRecorder used another format")
    indices = [chunk["index"] for chunk in recording["chunks"]]
    assert indices == list(range(len(indices))), why("chunk indices are not 0..n-1")
    assert len(indices) >= RECORD_SECONDS - 1, why(f"expected about {RECORD_SECONDS} chunks")
    assert recording["uploadedBeforeStop"] >= 1, why("no chunk was uploaded while recording")

    # The assembler kept the codecs (a remux, not a re-encode) and knows the media facts.
    assert detail["status"] == "ready", why("video is not ready")
    assert (detail["video_codec"], detail["audio_codec"]) == (codec, "opus"), why("codecs changed or unknown")
    assert detail["has_audio"] is True, why("the audio track is missing")
    assert (detail["width"], detail["height"]) == (320, 240), why("wrong resolution")
    assert detail["duration"] is not None and abs(detail["duration"] - recorded) <= TOLERANCE_S, why(
        f"detail duration {detail['duration']} is not within {TOLERANCE_S}s of the {recorded:.3f}s recorded"
    )

    # The browser sees a finite duration matching the recording...
    load = playback["load"]
    assert math.isfinite(float(load["durationText"])), why(
        f"<video>.duration is {load['durationText']}: the served WebM has no duration (not remuxed?)"
    )
    assert abs(load["duration"] - recorded) <= TOLERANCE_S, why(
        f"<video>.duration {load['duration']} is not within {TOLERANCE_S}s of the {recorded:.3f}s recorded"
    )
    assert (load["videoWidth"], load["videoHeight"]) == (320, 240), why("<video> decodes another size")
    assert playback["clockAtStart"] is not None and playback["clockAtStart"] <= TOLERANCE_S, why(
        "the first frame does not show the start of the recording"
    )

    # ...and a seek to the middle lands there: currentTime says so once `seeked` fired, and the
    # frame on screen is the one painted at that moment of the recording.
    seek = playback["seek"]
    assert seek is not None and seek["seeking"] is False, why("the seek did not complete")
    assert abs(seek["currentTime"] - seek["target"]) <= 0.05, why(
        f"currentTime {seek['currentTime']} after seeking to {seek['target']}"
    )
    assert seek["clockShown"] is not None, why("the frame after the seek shows no readable clock")
    assert abs(seek["clockShown"] - seek["target"]) <= TOLERANCE_S, why(
        f"after seeking to {seek['target']:.3f}s the frame shows the recording at {seek['clockShown']}s"
    )

    # From there it plays: time advances, frames and audio get decoded.
    play = playback["play"]
    assert play is not None and play["to"] >= play["from"] + 0.9, why("playback did not advance from the middle")
    assert play["framesDecoded"] > 0 and (play["audioDecodedBytes"] or 0) > 0, why("video or audio did not decode")

    assert_bytes_came_the_way_the_mode_says(stack, playback, why)
    # Shown with `pytest -rP`: what was measured, for the record.
    print(
        f"{stack.mode}/{codec}: {len(indices)} chunks, recorded {recorded:.3f}s, detail {detail['duration']}s, "
        f"<video> {load['duration']}s, seek {seek['target']:.3f}s -> currentTime {seek['currentTime']:.3f}s, "
        f"frame shows {seek['clockShown']}s"
    )


def assert_bytes_came_the_way_the_mode_says(stack: Any, playback: dict[str, Any], why: Callable[[str], str]) -> None:
    """Embedded: the API answers the Range requests itself. Cluster: it redirects to presigned S3."""
    api_origin = urlsplit(stack.url).netloc
    responses = playback["mediaResponses"]
    from_api = [r for r in responses if urlsplit(r["url"]).netloc == api_origin]
    assert from_api, why("the <video> never asked the API for stream_video")
    if stack.mode == "cluster":
        redirects = [r for r in from_api if 300 <= r["status"] < 400 and r["location"]]
        assert redirects, why("stream_video did not redirect to storage")
        storage_origin = urlsplit(redirects[0]["location"]).netloc
        assert storage_origin and storage_origin != api_origin, why("the redirect stays on the API")
        from_storage = [r for r in responses if urlsplit(r["url"]).netloc == storage_origin]
        assert any(r["status"] in (200, 206) for r in from_storage), why("storage did not serve the bytes")
    else:
        assert any(r["status"] == 206 for r in from_api), why("the API answered no Range request with 206")
