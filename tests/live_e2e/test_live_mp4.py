"""Live transcription of fragmented-MP4 MediaRecorder uploads, end to end in headless Chromium.

As tests/live_e2e/test_live_recording.py, but Chromium records in MP4 mode: two MediaRecorders
on the same canvas + espeak-ng speech stream, `video/mp4;codecs=avc1,opus` and
`video/mp4;codecs=vp9,opus`, 1 s timeslice and a key frame a second
(videoKeyFrameIntervalDuration: Chromium's MP4 muxer ends a fragment, so a piece, only at a key
frame). Piece 0 is `ftyp` + `moov`, every later piece `moof` + `mdat` fragments; each is uploaded
with its chunk_index as it comes and the recording is finalized with chunk_count.

Bugs it catches: MP4 uploads not followed live (before live_mp4.py only WebM was: nothing was
transcribed until assembly, the live stream sent no segment before stop and the transcript came
from the whole-file fallback), MP4 audio off the video's timeline (word times outside their
windows, holes or doubled words at the seams), an MP4 upload that does not become `ready`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Stack
from tests.live_e2e.conftest import BrowserTools, live_stack
from tests.live_e2e.live import (
    Speech,
    continuity_problems,
    doubled_phrases,
    live_rows,
    segments_text,
    to_wav16k,
    wer,
    whole_file_transcript,
    window_problems,
)
from tests.live_e2e.test_live_recording import wait_transcribed
from tests.support import stored_object

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

DRIVER = Path(__file__).with_name("live_record.mjs")
CODECS = {"avc1": "video/mp4;codecs=avc1,opus", "vp9": "video/mp4;codecs=vp9,opus"}
KEY_FRAME_MS = 1000
TAIL_SECONDS = 2.0
LIVE_TIMEOUT_S = 300
MAX_WER = 0.35
WER_SLACK = 0.10  # as test_live_recording.py: a regression guard against the whole-file transcript


@pytest.fixture(
    scope="module",
    params=[pytest.param("embedded", marks=pytest.mark.embedded), pytest.param("cluster", marks=pytest.mark.cluster)],
)
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    moto = request.getfixturevalue("moto_server") if request.param == "cluster" else None
    yield from live_stack(request.param, tmp_path_factory.mktemp(f"live-mp4-{request.param}"), moto)


@pytest.fixture(scope="module")
def recorded(live: Stack, browser_tools: BrowserTools, speech: Speech, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One browser run recording both MP4 codecs; per codec: the page's facts, the detail once
    transcribed, the final transcript, the live rows, the stored source's first bytes, and the
    whole-file reference transcript of its audio."""
    seconds = round(speech.seconds + TAIL_SECONDS)
    command = [
        browser_tools.node, str(DRIVER), "--base", live.url, "--speech", str(speech.wav), "--seconds", str(seconds),
        *[arg for mime in CODECS.values() for arg in ("--mime", mime)], "--key-frame-ms", str(KEY_FRAME_MS),
        "--live-timeout", str(LIVE_TIMEOUT_S), "--chromium", browser_tools.chromium,
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=seconds + LIVE_TIMEOUT_S + 180, check=False)
    print(f"--- driver log ---\n{done.stderr[-6000:]}")
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"driver exited {done.returncode} without a report\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    if done.returncode != 0 or "error" in report:
        pytest.fail(f"browser run failed: {report.get('error')}\n{json.dumps(report)[:6000]}\n{live.logs()}")
    recording = report["recording"]
    folder = tmp_path_factory.mktemp("live-mp4-audio")
    out: dict[str, Any] = {"recording": recording}
    for codec, mime in CODECS.items():
        run = next(r for r in recording["runs"] if r["mimeType"] == mime)
        live.wait_for(run["videoId"], timeout=240)
        detail = wait_transcribed(live, run["videoId"])
        with live.client() as client:
            transcript = client.get(f"/api/record/videos/{run['videoId']}/transcript").json()
        reference = None
        if detail["status"] == "ready":
            # The reference hears what the whole-file path would: the stored upload's audio.
            source = folder / f"{codec}.mp4"
            source.write_bytes(stored_object(live, f"videos/{detail['public_id']}/source.bin"))
            reference = whole_file_transcript(to_wav16k(source, folder / f"{codec}-16k.wav"))
        out[codec] = {
            "run": run, "detail": detail, "transcript": transcript, "live": live_rows(live, run["videoId"]),
            "reference": reference,
        }  # fmt: skip
    return out


def segment_events(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in run["live"]["events"] if e["event"] == "segment"]


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_it_records_fragmented_mp4_in_one_second_pieces(recorded: dict[str, Any], codec: str) -> None:
    run = recorded[codec]["run"]
    assert run["recorderMimeType"].replace(" ", "") == CODECS[codec], run["recorderMimeType"]
    sizes = [c["size"] for c in run["chunks"]]
    # Piece 0 is the init segment alone (ftyp + moov, about 1.2 KB), then a fragment a second.
    assert sizes[0] < 4096, sizes[:5]
    assert len(sizes) >= recorded["recording"]["recordedSeconds"] * 0.7, (len(sizes), recorded["recording"]["recordedSeconds"])
    assert run["uploadErrors"] == [] and run["uploadedBeforeStop"] >= 10, run["uploadErrors"] or run["uploadedBeforeStop"]


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_it_streams_committed_segments_before_stop(recorded: dict[str, Any], live: Stack, codec: str) -> None:
    run = recorded[codec]["run"]
    stop_ms = recorded["recording"]["stopMs"]
    segments = segment_events(run)
    arrivals = [round((e["atMs"] - stop_ms) / 1000, 1) for e in segments]
    print(f"{live.mode}/mp4-{codec}: {len(segments)} committed segments, arrival s relative to stop: {arrivals}")
    assert [e for e in segments if e["atMs"] < stop_ms], f"no committed segment before stop (arrivals vs stop: {arrivals})"
    ids = [int(e["id"]) for e in segments]
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids
    assert [e["data"]["index"] for e in segments] == list(range(len(segments)))
    last = run["live"]["events"][-1]
    assert last["event"] == "done" and last["data"] == {"status": "done", "segments": len(segments)}, last
    assert not run["live"]["timedOut"], run["live"]


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_it_took_the_live_path_with_words_inside_their_windows(recorded: dict[str, Any], live: Stack, codec: str) -> None:
    """Not the whole-file fallback (which the live path falls back to quietly when it cannot
    follow a stream): the windows lie back to back over the recording, each word inside its
    window, the final transcript their segments in order and the stream's segments."""
    one = recorded[codec]
    detail, transcript = one["detail"], one["transcript"]
    status, windows = one["live"]
    print(f"{live.mode}/mp4-{codec}: live transcription {status}, {len(windows)} windows: "
          f"{[(w.index, round(w.start, 2), round(w.end, 2)) for w in windows]}")  # fmt: skip
    assert status == "finished", (status, windows)
    assert len(windows) >= 3, windows
    assert window_problems(windows, transcript["segments"], duration=detail["duration"]) == []
    streamed = [e["data"] for e in segment_events(one["run"])]
    assert [(s["start"], s["end"], s["text"].strip()) for s in streamed] == [
        (s["start"], s["end"], s["text"].strip()) for s in transcript["segments"]
    ]


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_it_is_ready_and_transcribes_the_speech(recorded: dict[str, Any], live: Stack, speech: Speech, codec: str) -> None:
    one = recorded[codec]
    detail, transcript, reference = one["detail"], one["transcript"], one["reference"]
    print(f"{live.mode}/mp4-{codec}: {detail['status']} as {detail['content_type']} "
          f"(source {detail['container']} {detail['video_codec']}/{detail['audio_codec']}, {detail['duration']} s)")  # fmt: skip
    assert detail["status"] == "ready" and reference is not None, detail
    # H.264 is copied into MP4 (moov first); VP9/Opus is copied into WebM instead of transcoded.
    assert detail["content_type"] == {"avc1": "video/mp4", "vp9": "video/webm"}[codec], detail
    assert detail["duration"] >= recorded["recording"]["recordedSeconds"] - 1.5, detail["duration"]
    assert transcript["status"] == "done", transcript
    progressive = segments_text(transcript["segments"])
    got, baseline = wer(speech.text, progressive), wer(speech.text, reference.text)
    print(f"{live.mode}/mp4-{codec}: WER progressive {got:.3f}, whole-file {baseline:.3f}; {progressive!r}")
    assert got <= MAX_WER, f"WER {got:.3f}: {progressive!r}"
    assert got <= baseline + WER_SLACK, f"progressive WER {got:.3f} vs whole-file {baseline:.3f}\n{progressive!r}\n{reference.text!r}"
    assert doubled_phrases(progressive, speech.text) == [], progressive


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_it_keeps_times_continuous_across_window_seams(recorded: dict[str, Any], speech: Speech, codec: str) -> None:
    one = recorded[codec]
    detail, transcript, reference = one["detail"], one["transcript"], one["reference"]
    assert detail["status"] == "ready" and reference is not None, detail
    assert continuity_problems(transcript["segments"], duration=detail["duration"], speech=speech) == []
    count = sum(len(s["words"]) for s in transcript["segments"])
    whole = sum(len(s["words"]) for s in reference.segments)
    assert abs(count - whole) <= 3, (count, whole)
