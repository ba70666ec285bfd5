"""Live transcription: a long speech recording sent in 1 s pieces while it "records", against
today's path (everything transcribed after finalize) on the same recording in the same run.

Not collected by pytest. Run from the repository root:

    uv run --frozen --all-extras --all-groups python tests/bench/bench_live.py [--minutes 10] [--speed 4]

The recording is a MediaRecorder-like WebM (VP8 + Opus, written as a live stream: no duration,
no cues, one cluster a second) of espeak-ng saying tests/live_e2e/live.py's script over and
over, made once with ffmpeg and cached under --cache (default /tmp/recordplus-bench-live). It is
cut at its clusters into the pieces a 1 s MediaRecorder timeslice hands over.

One embedded server (`recordplus serve`: SQLite, disk, in-process workers; faster-whisper with
the bundled tiny.en, 2 threads; the default 3 s settle window) takes, after a warm-up upload that
loads the model:

- **live**: piece i is sent with `chunk_index` at i / speed seconds (the recording's pace, or
  `--speed` times it), a `transcript/live` reader listening from the start; finalize with
  `chunk_count` right after the last piece;
- **whole file** (today's client, the original extension): the same recording sent at stop in
  1 MiB slices without `chunk_index`, finalize with no body (the settle window runs; the
  transcription of the whole file starts at `ready`);
- **same pieces, live transcription off** (skip with `--no-paced-baseline`): a second server
  with `LIVE_TRANSCRIPTION=false` takes the live run's pieces at the same pace, so what the
  upload of 1 s pieces costs by itself is measured too (the live path's own cost is the
  difference).

Reported for each: stop (finalize sent) → `ready`, stop → transcript `done`, WER against the
script, CPU seconds of the server (and its ffmpeg children) per audio second; for live also
the caption latency (p50/p95 of a committed segment's arrival minus the moment its last word
was said: media time t counts as said at t / speed after the first piece was sent) and the WER
of progressive vs whole-file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the helpers live in tests/
    sys.path.insert(0, str(ROOT))

from tests.bench.baselines import recordplus, table
from tests.live_e2e.live import (
    GAP_SECONDS,
    LiveReader,
    make_recording,
    make_speech,
    segments_text,
    wav_seconds,
    webm_pieces,
    wer,
)

SETTLE_SECONDS = "3.0"  # the shipped default: today's path waits for it
WARMUP_PIECES = 8
# Today's client (the original extension) sends the blob at stop in 1 MiB slices without
# chunk_index (70 one-second pieces without an index cannot be put in order for certain).
SLICE_BYTES = 1 << 20


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of `pid` and of its children it has waited for (ffmpeg runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    name: str
    stop_to_ready: float = math.nan
    stop_to_done: float = math.nan
    cpu_seconds: float = math.nan
    text: str = ""
    segments: int = 0
    latencies: list[float] = field(default_factory=list)
    before_stop: int = 0
    send_seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


class Api:
    def __init__(self, port: int, auth: dict[str, str]) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth, timeout=120)

    def create(self, title: str) -> int:
        return self.client.post("/api/record/videos/", data={"title": title}).raise_for_status().json()["video_id"]

    def piece(self, video_id: int, data: bytes, index: int | None) -> None:
        form = {"chunk_index": str(index)} if index is not None else {}
        self.client.patch(f"/api/record/videos/{video_id}/update_video_chunck/", data=form,
                          files={"video_chunck": ("piece.webm", data, "video/webm")}).raise_for_status()  # fmt: skip

    def finalize(self, video_id: int, chunk_count: int | None) -> None:
        body = {"json": {"chunk_count": chunk_count}} if chunk_count is not None else {}
        self.client.post(f"/api/record/videos/{video_id}/finalize_video_upload/", **body).raise_for_status()

    def detail(self, video_id: int) -> dict[str, Any]:
        return self.client.get(f"/api/record/videos/{video_id}").raise_for_status().json()

    def transcript(self, video_id: int) -> dict[str, Any]:
        return self.client.get(f"/api/record/videos/{video_id}/transcript").raise_for_status().json()

    def wait(self, video_id: int, stop: float, timeout: float = 1800) -> tuple[float, float, dict[str, Any]]:
        """(stop → ready, stop → transcript ended) in seconds, polling every 20 ms until ready,
        then every 100 ms (the polls cost the server CPU too, and the whole-file path waits long)."""
        ready = math.nan
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            detail = self.detail(video_id)
            if detail["status"] == "failed":
                raise RuntimeError(f"video {video_id} failed: {detail['error']}")
            if detail["status"] == "ready" and math.isnan(ready):
                ready = time.monotonic() - stop
            status = (detail.get("transcription") or {}).get("status")
            if status in ("done", "failed"):
                if status == "failed":
                    raise RuntimeError(f"transcription of video {video_id} failed: {detail['transcription']}")
                return ready, time.monotonic() - stop, detail
            time.sleep(0.02 if math.isnan(ready) else 0.1)
        raise RuntimeError(f"video {video_id} not transcribed after {timeout} s")


def run_live(api: Api, port: int, auth: dict[str, str], pid: int, pieces: list[bytes], speed: float,
             name: str = "live (chunk_index, chunk_count)") -> Run:
    run = Run(name)
    video_id = api.create("bench live")
    reader = LiveReader(f"http://127.0.0.1:{port}", video_id, timeout=3600, headers=auth)
    reader.start()
    cpu = process_cpu(pid)
    started = time.monotonic()
    for index, piece in enumerate(pieces):
        due = started + index / speed
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        api.piece(video_id, piece, index)
    run.send_seconds = time.monotonic() - started
    stop = time.monotonic()
    api.finalize(video_id, len(pieces))
    run.stop_to_ready, done_by_poll, run.detail = api.wait(video_id, stop)
    reader.join(timeout=600)
    run.cpu_seconds = process_cpu(pid) - cpu
    if reader.error is not None:
        raise RuntimeError(f"live reader: {reader.error!r}")
    if not reader.finished:
        raise RuntimeError(f"live stream never ended (HTTP {reader.statuses[-3:]}, {len(reader.events)} events)")
    segments = [e for e in reader.events if e.event == "segment"]
    run.stop_to_done = min(done_by_poll, reader.events[-1].at - stop)
    run.segments = len(segments)
    run.before_stop = sum(1 for e in segments if e.at < stop)
    run.latencies = [e.at - (started + e.json["end"] / speed) for e in segments if e.at < stop]
    run.text = segments_text(api.transcript(video_id)["segments"])
    return run


def run_whole_file(api: Api, pid: int, recording: bytes) -> Run:
    run = Run("whole file (today: 1 MiB slices, no index, no total)")
    video_id = api.create("bench whole file")
    cpu = process_cpu(pid)
    started = time.monotonic()
    for offset in range(0, len(recording), SLICE_BYTES):
        api.piece(video_id, recording[offset : offset + SLICE_BYTES], None)
    run.send_seconds = time.monotonic() - started
    stop = time.monotonic()
    api.finalize(video_id, None)
    run.stop_to_ready, run.stop_to_done, run.detail = api.wait(video_id, stop)
    run.cpu_seconds = process_cpu(pid) - cpu
    transcript = api.transcript(video_id)
    run.text, run.segments = segments_text(transcript["segments"]), len(transcript["segments"])
    return run


def warmed_up(rp: Any, pieces: list[bytes]) -> Api:
    """An API client of `rp` after a first upload that loaded the model (neither measured path
    pays for that)."""
    api = Api(rp.port, rp.auth)
    warm = api.create("bench warm-up")
    for index, piece in enumerate(pieces[:WARMUP_PIECES]):
        api.piece(warm, piece, index)
    api.finalize(warm, WARMUP_PIECES)
    api.wait(warm, time.monotonic())
    return api


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="recording length (default 10)")
    parser.add_argument("--speed", type=float, default=4.0,
                        help="pieces sent this many times faster than real time (default 4: the run stays "
                             "within about 5 minutes on 2 cores; 1 is real time)")  # fmt: skip
    parser.add_argument("--cache", type=Path, default=Path("/tmp/recordplus-bench-live"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--no-paced-baseline", dest="paced_baseline", action="store_false",
                        help="skip the third run (the same pieces with live transcription off)")
    parser.add_argument("--server-log", type=Path, default=None,
                        help="keep the server's log here (where each assembly's and window's time went)")
    args = parser.parse_args()

    one_pass = make_speech(args.cache / "speech").seconds + GAP_SECONDS
    repeat = max(1, math.ceil(args.minutes * 60 / one_pass))  # at least --minutes of speech
    speech = make_speech(args.cache / "speech", repeat=repeat)
    recording = make_recording(speech, args.cache / f"live-{repeat}x.webm")
    pieces = webm_pieces(recording.read_bytes())
    audio = wav_seconds(speech.wav)
    print(f"recording: {recording} — {audio:.0f} s of speech ({repeat}× the script), {len(pieces)} pieces, "
          f"{recording.stat().st_size / 2**20:.1f} MiB; live pieces at {args.speed:g}× real time", flush=True)  # fmt: skip

    settings = {"TRANSCRIBE_ENGINE": "faster-whisper", "WHISPER_THREADS": str(args.threads),
                "FINALIZE_SETTLE_SECONDS": SETTLE_SECONDS, "LOG_LEVEL": "info"}  # fmt: skip
    logs = []
    with recordplus("embedded", **settings) as rp:
        api = warmed_up(rp, pieces)
        print("warm-up done; live run …", flush=True)
        live = run_live(api, rp.port, rp.auth, rp.server_pid(), pieces, args.speed)
        print(f"live run done (sent in {live.send_seconds:.0f} s); whole-file run …", flush=True)
        whole = run_whole_file(api, rp.server_pid(), recording.read_bytes())
        logs.append(rp.log.read_text(errors="replace"))
    paced = None
    if args.paced_baseline:
        # The same 1 s pieces at the same pace with live transcription off: what the upload
        # itself costs, so the live path's own cost is the difference.
        print("whole-file run done; the same pieces with live transcription off …", flush=True)
        with recordplus("embedded", **settings, LIVE_TRANSCRIPTION="false") as rp:
            api = warmed_up(rp, pieces)
            paced = run_live(api, rp.port, rp.auth, rp.server_pid(), pieces, args.speed,
                             name="same pieces, live transcription off")  # fmt: skip
            logs.append(rp.log.read_text(errors="replace"))
    if args.server_log:
        args.server_log.write_text("\n".join(logs))

    said = speech.text
    rows = []
    for run in (live, whole, *([paced] if paced else [])):
        rows.append((
            run.name, f"{run.stop_to_ready:.2f}", f"{run.stop_to_done:.2f}", f"{wer(said, run.text):.3f}",
            f"{run.cpu_seconds / audio:.3f}", str(run.segments),
        ))  # fmt: skip
    print()
    print(table(rows, ("path", "stop → ready s", "stop → transcript done s", "WER vs script", "CPU s / audio s", "segments")))
    print()
    p50, p95 = percentile(live.latencies, 0.5), percentile(live.latencies, 0.95)
    figures = {
        "audio_seconds": audio, "pieces": len(pieces), "speed": args.speed,
        "live_stop_to_ready": live.stop_to_ready, "whole_stop_to_ready": whole.stop_to_ready,
        "live_stop_to_done": live.stop_to_done, "whole_stop_to_done": whole.stop_to_done,
        "caption_latency_p50": p50, "caption_latency_p95": p95, "segments_before_stop": live.before_stop,
        "wer_live": wer(said, live.text), "wer_whole": wer(said, whole.text), "wer_live_vs_whole": wer(whole.text, live.text),
        "cpu_per_audio_second_live": live.cpu_seconds / audio, "cpu_per_audio_second_whole": whole.cpu_seconds / audio,
        "cpu_ratio": live.cpu_seconds / whole.cpu_seconds,
    }  # fmt: skip
    if paced:
        figures.update({
            "paced_stop_to_ready": paced.stop_to_ready, "paced_stop_to_done": paced.stop_to_done,
            "cpu_per_audio_second_paced": paced.cpu_seconds / audio, "cpu_ratio_vs_paced": live.cpu_seconds / paced.cpu_seconds,
            "wer_paced": wer(said, paced.text),
        })  # fmt: skip
    print(f"stop → ready       : live {live.stop_to_ready:.2f} s vs today {whole.stop_to_ready:.2f} s "
          f"(ratio {live.stop_to_ready / whole.stop_to_ready:.2f})")
    print(f"stop → done        : live {live.stop_to_done:.2f} s vs whole file {whole.stop_to_done:.2f} s "
          f"(ratio {live.stop_to_done / whole.stop_to_done:.2f})")
    print(f"caption latency    : p50 {p50:.1f} s, p95 {p95:.1f} s over the {live.before_stop} segments committed before stop "
          f"(of {live.segments}); at {args.speed:g}× pace"
          + ("" if args.speed == 1 else " — run --speed 1 for real-time latency"))  # fmt: skip
    print(f"WER                : progressive {figures['wer_live']:.3f}, whole file {figures['wer_whole']:.3f}, "
          f"progressive vs whole file {figures['wer_live_vs_whole']:.3f}")
    print(f"CPU s / audio s    : live {figures['cpu_per_audio_second_live']:.3f}, whole file "
          f"{figures['cpu_per_audio_second_whole']:.3f} (ratio {figures['cpu_ratio']:.2f}; goal ≤ 1.2)"
          + (f"; the same pieces without live transcription {figures['cpu_per_audio_second_paced']:.3f} "
             f"(ratio {figures['cpu_ratio_vs_paced']:.2f})" if paced else ""))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    if live.latencies:
        print(f"(latency spread: min {min(live.latencies):.1f} s, mean {statistics.mean(live.latencies):.1f} s, "
              f"max {max(live.latencies):.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
