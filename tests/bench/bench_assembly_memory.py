"""Benchmark: the assembler's peak memory while stitching a large upload, on disk and on S3.

Not collected by pytest. Run from the repository root:

    uv run python tests/bench/bench_assembly_memory.py [--sizes 256,2048] [--modes disk,s3]
        [--chunk-mib 8] [--keep DIR]

For each size (MiB) it makes a MediaRecorder-like WebM of that size: 720p30 VP8 of noise at
~200 Mbit/s with a quantizer near lossless (noise does not compress, so a few seconds of it
are hundreds of MB) and a 48 kHz Opus tone, encoded for 6 s once and then looped with a stream
copy as a live stream (no duration, no cues, like MediaRecorder) and cut at the size with
`-fs`. The upload goes in `--chunk-mib` pieces with chunk_index, then finalize → ready; the
stored original must be byte-identical (its SHA-256 is compared).

- disk: the embedded server (`recordplus serve`, SQLite, filesystem storage); the assembler
  is that process, so its tree (the server and its ffmpeg children) is measured.
- s3: a cluster-mode API on PostgreSQL, RabbitMQ and moto's S3 server, and one
  `recordplus worker --queues assemble`, whose tree (the worker and its ffmpeg children) is
  measured. Pieces of 5 MiB or more are stitched with UploadPartCopy (see the README).

Peak RSS is sampled from /proc every 50 ms from finalize to ready (the process alone, its
ffmpeg children, and both at once); VmHWM is the process's own high-water mark as the kernel
counts it. "Idle" is the process's RSS just before finalize. The goal (issue 15) is a peak of
at most 150 MB together, flat in the upload's size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

# Run as a script, this folder is on sys.path: the servers come from the sibling load bench.
from bench_load import _nothing, _rss_kib, _tree, api_server, moto_server

GOAL_MB = 150
COMMON = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]


def make_upload(folder: Path, size_mib: int) -> Path:
    """A live-style VP8/Opus WebM of about `size_mib` MiB (kept in `folder` for reuse)."""
    path = folder / f"noise-{size_mib}MiB.webm"
    if path.exists():
        return path
    piece = folder / "noise-piece.webm"
    if not piece.exists():
        subprocess.run(
            [*COMMON, "-f", "lavfi", "-i", "color=c=gray:s=1280x720:r=30:d=6,noise=alls=60:allf=t+u",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=6",
             "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "16", "-b:v", "200M", "-minrate", "200M",
             "-maxrate", "200M", "-qmin", "0", "-qmax", "8", "-g", "60", "-c:a", "libopus", "-b:a", "48k",
             "-f", "webm", str(piece)],
            check=True,
        )  # fmt: skip
    subprocess.run(
        [*COMMON[:2], "-loglevel", "fatal", "-y", "-stream_loop", "-1", "-i", str(piece), "-c", "copy", "-fs", str(size_mib << 20),
         "-live", "1", "-f", "webm", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages (ffmpeg's libraries, mapped by every ffmpeg alike)
    counted once across the processes sharing them, not once per process as in RSS."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _status(path: Path) -> dict[str, int]:
    found = {}
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                found[name] = int(value.split()[0])
    except OSError:
        pass
    return found


class Sampler(threading.Thread):
    """Peak RSS of `pid` alone, of the processes below it, and of both at once (KiB)."""

    def __init__(self, pid: int, timeline: bool = False) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.own = self.children = self.total = 0
        self.hwm = self.pss = 0
        self.timeline = timeline

    def run(self) -> None:
        started = time.monotonic()
        shown = -1.0
        while not self.stop.is_set():
            pids = _tree(self.pid)
            own = _rss_kib(self.pid)
            below = sum(_rss_kib(p) for p in pids[1:])
            self.own, self.children, self.total = max(self.own, own), max(self.children, below), max(self.total, own + below)
            self.pss = max(self.pss, sum(_pss_kib(p) for p in pids))
            self.hwm = max(self.hwm, _status(Path(f"/proc/{self.pid}/status")).get("VmHWM", 0))
            if self.timeline and time.monotonic() - shown >= 0.5:
                shown = time.monotonic()
                status = _status(Path(f"/proc/{self.pid}/status"))
                print(f"  {shown - started:6.1f} s  process {own / 1024:5.0f} MiB (anon {status.get('RssAnon', 0) / 1024:.0f}, "
                      f"file {status.get('RssFile', 0) / 1024:.0f}, {status.get('Threads', 0)} threads)  "
                      f"ffmpeg {below / 1024:5.0f} MiB ({len(pids) - 1} below)", flush=True)
            time.sleep(0.05)


def _call(port: int, token: str, method: str, path: str, body: bytes = b"", ctype: str = "application/json") -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body if method != "GET" else None,
                                     method=method, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})  # fmt: skip
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def run(mode: str, upload: Path, chunk_bytes: int, workdir: Path, moto_port: int | None,
        timeline: bool = False) -> dict[str, Any]:
    cluster = mode == "s3"
    with api_server("cluster" if cluster else "embedded", workdir, source=None, workers=1, moto_port=moto_port,
                    worker=cluster, FINALIZE_SETTLE_SECONDS="0", MAX_CHUNK_BYTES=str(64 << 20),
                    LOG_LEVEL="info") as target:  # fmt: skip
        assembler = target.worker if cluster else target.proc
        assert assembler is not None
        video_id = _call(target.port, target.token, "POST", "/api/record/videos/", json.dumps({"title": "memory"}).encode())["video_id"]
        digest = hashlib.sha256()
        started = time.monotonic()
        with upload.open("rb") as fh:
            index = 0
            while piece := fh.read(chunk_bytes):
                digest.update(piece)
                _call(target.port, target.token, "PATCH", f"/api/record/videos/{video_id}/update_video_chunck?chunk_index={index}",
                      piece, "application/octet-stream")  # fmt: skip
                index += 1
        upload_seconds = time.monotonic() - started
        idle = _rss_kib(assembler.pid)
        sampler = Sampler(assembler.pid, timeline)
        sampler.start()
        started = time.monotonic()
        _call(target.port, target.token, "POST", f"/api/record/videos/{video_id}/finalize_video_upload/",
              json.dumps({"chunk_count": index}).encode())  # fmt: skip
        deadline = time.monotonic() + 3600
        while True:
            detail = _call(target.port, target.token, "GET", f"/api/record/videos/{video_id}")
            if detail["status"] in ("ready", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
        sampler.stop.set()
        sampler.join()
        if detail["status"] != "ready":
            kept = Path(tempfile.mkdtemp(prefix=f"recordplus-bench-memory-{mode}-{upload.stat().st_size >> 20}-logs-"))
            for log in workdir.glob("*.log"):
                shutil.copy(log, kept / log.name)
            raise RuntimeError(f"{mode}: video {video_id} ended {detail['status']}: {detail.get('error')} (logs in {kept})")
        original = hashlib.sha256()
        request = urllib.request.Request(f"http://127.0.0.1:{target.port}/api/record/videos/{video_id}/original",
                                         headers={"Authorization": f"Bearer {target.token}"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=600) as response:  # follows the presigned redirect on S3
            while block := response.read(1 << 20):
                original.update(block)
        log = (workdir / ("worker.log" if cluster else "server.log")).read_text(errors="replace").splitlines()
        return {
            "chunks": index,
            "upload_s": upload_seconds,
            "assemble_s": seconds,
            "byte_exact": original.hexdigest() == digest.hexdigest(),
            "idle": idle / 1024,
            "own": sampler.own / 1024,
            "hwm": sampler.hwm / 1024,
            "children": sampler.children / 1024,
            "total": sampler.total / 1024,
            "pss": sampler.pss / 1024,
            "steps": next((line.split("): ", 1)[-1] for line in reversed(log) if "playable" in line), ""),
            "stitched": next((line.split(": ", 1)[-1] for line in reversed(log) if " stitched (" in line), ""),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,2048", help="upload sizes in MiB (default 256,2048)")
    parser.add_argument("--modes", default="disk,s3", help="disk and/or s3 (default both)")
    parser.add_argument("--chunk-mib", type=int, default=8, help="piece size in MiB (default 8)")
    parser.add_argument("--timeline", action="store_true", help="print the RSS every 0.5 s during assembly")
    parser.add_argument("--keep", type=Path, default=None, help="keep/reuse the generated uploads in this folder")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    modes = [m for m in args.modes.split(",") if m]
    workdir = Path(tempfile.mkdtemp(prefix="recordplus-bench-memory-"))
    media = args.keep or workdir / "media"
    media.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        uploads = {}
        for size in sizes:
            started = time.monotonic()
            uploads[size] = make_upload(media, size)
            print(f"upload of {size} MiB: {uploads[size].stat().st_size:,} bytes (made in {time.monotonic() - started:.0f} s)", flush=True)
        with (moto_server(workdir) if "s3" in modes else _nothing()) as moto:
            for mode in modes:
                for size in sizes:
                    result = run(mode, uploads[size], args.chunk_mib << 20, workdir / f"{mode}-{size}",
                                 moto.port if moto else None, args.timeline)
                    rows.append((mode, size, result))
                    print(f"{mode:>4} {size:>5} MiB: ready in {result['assemble_s']:.1f} s, byte-exact {result['byte_exact']}; "
                          f"peak {result['total']:.0f} MiB RSS, {result['pss']:.0f} MiB PSS (process {result['own']:.0f}, VmHWM {result['hwm']:.0f}, "
                          f"idle {result['idle']:.0f}; ffmpeg {result['children']:.0f})\n"
                          f"           stitched: {result['stitched']}\n           steps: {result['steps']}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'store':>5} {'upload':>8} {'chunks':>6} {'ready s':>8} {'exact':>5} {'idle':>6} {'process':>7} "
          f"{'ffmpeg':>6} {'RSS sum':>7} {'PSS sum':>7}   (MiB; goal ≤ {GOAL_MB} MB = {GOAL_MB / 1.048576:.0f} MiB)")  # fmt: skip
    for mode, size, r in rows:
        print(f"{mode:>5} {size:>4} MiB {r['chunks']:>6} {r['assemble_s']:>8.1f} {r['byte_exact']!s:>5} {r['idle']:>6.0f} "
              f"{r['own']:>7.0f} {r['children']:>6.0f} {r['total']:>7.0f} {r['pss']:>7.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
