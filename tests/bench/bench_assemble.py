"""Benchmark: finalize → ready for a long recording, against `ffmpeg -c copy` on the same file.

Not collected by pytest. Run from the repository root:

    uv run python tests/bench/bench_assemble.py [--minutes 10] [--keep DIR]

It makes a MediaRecorder-like WebM (720p VP8 + Opus written as a live stream: no duration, no
cues) with ffmpeg, starts the embedded server (`recordplus serve`, SQLite, filesystem storage,
in-process workers), uploads the file in chunks, finalizes, and times finalize → `ready`. The
baseline is a plain `ffmpeg -i in.webm -c copy out.webm` on the same file in the same run. While
the assembly runs, the resident memory of the server process and of its children (ffmpeg) is
sampled from /proc every 50 ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

CHUNK_BYTES = 4 * 1024 * 1024


def make_recording(path: Path, minutes: float) -> float:
    """Write a 720p30 VP8/Opus live-style WebM of `minutes`; returns the seconds it took.

    One minute is encoded (VP8 realtime, low bitrate) and then looped with a stream copy, which
    is ten times quicker than encoding ten minutes and gives the same kind of file.
    """
    seconds = int(minutes * 60)
    piece = path.with_suffix(".piece.webm")
    started = time.monotonic()
    common = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        [*common,
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={min(seconds, 60)}",
         "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={min(seconds, 60)}",
         "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "16", "-b:v", "600k", "-g", "150",
         "-c:a", "libopus", "-b:a", "48k", "-f", "webm", str(piece)],
        check=True,
    )
    loops = max(0, -(-seconds // 60) - 1)
    subprocess.run(
        [*common, "-stream_loop", str(loops), "-i", str(piece), "-t", str(seconds), "-c", "copy",
         # Written as MediaRecorder does: no duration, no cues.
         "-live", "1", "-f", "webm", str(path)],
        check=True,
    )
    piece.unlink()
    return time.monotonic() - started


def copy_baseline(source: Path, dest: Path) -> float:
    """Seconds for the plain stream copy the assembler's remux is compared with."""
    started = time.monotonic()
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-c", "copy", str(dest)],
        check=True,
    )
    return time.monotonic() - started


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        for task in tasks:
            text = (task / "children").read_text().split()
            found += [int(child) for child in text]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


class MemorySampler(threading.Thread):
    """Peak RSS of a process (`own`), of its descendants (`children`) and of both together."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.peak_own = self.peak_children = self.peak_total = 0

    def run(self) -> None:
        while not self.stop.is_set():
            own = _rss_kib(self.pid)
            stack, children = _children(self.pid), 0
            while stack:
                child = stack.pop()
                children += _rss_kib(child)
                stack += _children(child)
            self.peak_own = max(self.peak_own, own)
            self.peak_children = max(self.peak_children, children)
            self.peak_total = max(self.peak_total, own + children)
            time.sleep(0.05)


def run_through_server(source: Path, data_dir: Path) -> dict[str, Any]:
    port = _free_port()
    env = {
        **os.environ,
        "RECORDPLUS_MODE": "embedded",
        "ALLOW_ANONYMOUS": "true",
        # The settle window waits for late chunks; the benchmark measures the work itself.
        "FINALIZE_SETTLE_SECONDS": "0",
    }
    # The console script installed next to this interpreter (uv run puts it on PATH too).
    recordplus = Path(sys.executable).with_name("recordplus")
    server = subprocess.Popen(
        [str(recordplus) if recordplus.exists() else "recordplus", "serve", "--port", str(port),
         "--data-dir", str(data_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=(data_dir / "server.log").open("wb"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"server did not start; see {data_dir / 'server.log'}")
                time.sleep(0.2)
            idle_rss = _rss_kib(server.pid)
            video_id = client.post("/api/record/videos/", data={"title": "bench"}).raise_for_status().json()["video_id"]
            upload_started = time.monotonic()
            with source.open("rb") as fh:
                index = 0
                while chunk := fh.read(CHUNK_BYTES):
                    client.patch(
                        f"/api/record/videos/{video_id}/update_video_chunck/",
                        files={"video_chunck": (f"{index}.webm", chunk, "video/webm")},
                        data={"chunk_index": str(index)},
                    ).raise_for_status()
                    index += 1
            upload_seconds = time.monotonic() - upload_started
            sampler = MemorySampler(server.pid)
            sampler.start()
            started = time.monotonic()
            client.post(f"/api/record/videos/{video_id}/finalize_video_upload/").raise_for_status()
            while True:
                detail = client.get(f"/api/record/videos/{video_id}").raise_for_status().json()
                if detail["status"] in ("ready", "failed"):
                    break
                time.sleep(0.02)
            assemble_seconds = time.monotonic() - started
            sampler.stop.set()
            sampler.join()
            steps = [line for line in (data_dir / "server.log").read_text(errors="replace").splitlines()
                     if "playable" in line]
            if detail["status"] != "ready":
                raise RuntimeError(f"assembly failed: {detail['error']}")
            return {
                "chunks": index,
                "upload_seconds": upload_seconds,
                "assemble_seconds": assemble_seconds,
                "duration": detail["duration"],
                "rendition_bytes": detail["size"],
                "content_type": detail["content_type"],
                "steps": steps[-1].split("): ", 1)[-1] if steps else "(no step timings logged)",
                "idle_rss_mib": idle_rss / 1024,
                "peak_server_rss_mib": sampler.peak_own / 1024,
                "peak_ffmpeg_rss_mib": sampler.peak_children / 1024,
                "peak_total_rss_mib": sampler.peak_total / 1024,
            }
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="recording length (default 10)")
    parser.add_argument("--keep", type=Path, default=None, help="keep/reuse the recording in this folder")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="recordplus-bench-"))
    try:
        store = args.keep or workdir
        store.mkdir(parents=True, exist_ok=True)
        source = store / f"recording-{args.minutes:g}min-720p.webm"
        if not source.exists():
            print(f"making {args.minutes:g} min of 720p WebM …", flush=True)
            print(f"  generated in {make_recording(source, args.minutes):.1f} s", flush=True)
        size_mib = source.stat().st_size / 2**20
        baseline = copy_baseline(source, workdir / "copy.webm")
        data_dir = workdir / "server"
        data_dir.mkdir()
        result = run_through_server(source, data_dir)
        ratio = result["assemble_seconds"] / baseline
        print(f"recording        : {args.minutes:g} min 720p30 VP8/Opus, {size_mib:.1f} MiB, "
              f"uploaded as {result['chunks']} chunks in {result['upload_seconds']:.1f} s")
        print(f"ffmpeg -c copy   : {baseline:.2f} s")
        print(f"finalize → ready : {result['assemble_seconds']:.2f} s  "
              f"(ratio {ratio:.2f}× the copy; stitch + remux with cues + thumbnail + 16 kHz audio)")
        print(f"media steps      : {result['steps']}")
        print(f"ready video      : {result['content_type']}, {result['duration']:.1f} s, "
              f"{result['rendition_bytes'] / 2**20:.1f} MiB")
        print(f"peak RSS         : server process {result['peak_server_rss_mib']:.0f} MiB "
              f"(idle {result['idle_rss_mib']:.0f} MiB), ffmpeg children {result['peak_ffmpeg_rss_mib']:.0f} MiB, "
              f"together {result['peak_total_rss_mib']:.0f} MiB")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
