"""Benchmark: streaming a video (whole and by Range) against nginx and boto3 → moto.

Not collected by pytest. Run from the repository root:

    uv run --frozen --all-extras --all-groups python tests/bench/bench_stream.py [--seconds 6] [--rounds 3]
        [--django] [--skip cluster] [--env NAME=VALUE]

An ~8.6 MB WebM is uploaded and assembled once; the rendition RecordPlus serves is then put,
byte for byte, where nginx serves static files. Workloads, each for `--seconds` per server,
the servers taking turns in `--rounds`:

- `full GET × 2`: the whole video, two clients at once.
- `256 KiB Range × 4`: random 256 KiB ranges (a seeking player), four clients, the same seeded
  offsets for every server.

Servers: RecordPlus embedded (SQLite, disk, a bearer token; `--django` adds it with
HOT_PATHS=false for the before/after of the lean route), nginx 1 worker (static, sendfile),
RecordPlus cluster with STREAM_MODE=proxy from S3 on moto, and boto3 `get_object` of the same
object and ranges from the same moto. Ratios are RecordPlus ÷ baseline in this run.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import baselines as b  # noqa: E402

PIECE = 256 * 1024
WORKLOADS = {"full GET × 2": ("full", 2), "256 KiB Range × 4": ("range", 4)}
VIDEO_CACHE = Path(tempfile.gettempdir()) / "recordplus-bench-stream.webm"


def http_get(port: int, path: str, headers: dict[str, str], kind: str, clients: int, size: int,
             seconds: float) -> b.Load:
    ranges = b.seeded_ranges(size, PIECE, 20_000)

    def make_step(client: int) -> b.Step:
        call = b.Call(port)

        def step(_client: int, n: int) -> tuple[bool, int]:
            if kind == "full":
                status, got = call.request("GET", path, None, headers)
                return status == 200 and got == size, int(got)
            start, end = ranges[(client * 5000 + n) % len(ranges)]
            status, got = call.request("GET", path, None, {**headers, "Range": f"bytes={start}-{end}"})
            return status == 206 and got == PIECE, int(got)

        return step

    return b.run_load(clients, seconds, make_step)


def boto3_get(moto_port: int, bucket: str, key: str, kind: str, clients: int, size: int, seconds: float) -> b.Load:
    s3 = b.s3_client(moto_port)
    ranges = b.seeded_ranges(size, PIECE, 20_000)

    def make_step(client: int) -> b.Step:
        def step(_client: int, n: int) -> tuple[bool, int]:
            if kind == "full":
                body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            else:
                start, end = ranges[(client * 5000 + n) % len(ranges)]
                body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}")["Body"]
            got = sum(len(piece) for piece in body.iter_chunks(1024 * 1024))
            return got == (size if kind == "full" else PIECE), got

        return step

    return b.run_load(clients, seconds, make_step)


def _ready(rp: b.RecordPlus, data: bytes) -> tuple[str, bytes, dict[str, Any]]:
    video_id = b.ready_video(rp, data)
    path = f"/api/record/videos/{video_id}/stream_video"
    status, served = b.Call(rp.port).request("GET", path, None, rp.auth, keep_body=True)
    if status != 200:
        raise RuntimeError(f"stream answered {status}")
    detail = b.json_call(rp.port, "GET", f"/api/record/videos/{video_id}", headers=rp.auth)
    return path, bytes(served), detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per workload and server (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="turns the servers take within those seconds (default 3)")
    parser.add_argument("--skip", default="", help="comma-separated: cluster")
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--django", action="store_true", help="also RecordPlus with HOT_PATHS=false (all through Django)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for RecordPlus")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    env = dict(item.split("=", 1) for item in args.env)
    data = b.make_video(VIDEO_CACHE)
    results: dict[tuple[str, str], tuple[b.Load, float | None]] = {}

    with contextlib.ExitStack() as stack:
        rp = stack.enter_context(b.recordplus("embedded", **env))
        path, served, _ = _ready(rp, data)
        size = len(served)
        ng = stack.enter_context(b.nginx(args.nginx_workers))
        static = b.nginx_publish(ng, "video.webm", served)
        servers: dict[str, tuple[int, Any]] = {
            "nginx": (ng.proc.pid, lambda kind, n, t: http_get(ng.port, static, {}, kind, n, size, t)),
        }
        if args.django:
            rd = stack.enter_context(b.recordplus("embedded", **{**env, "HOT_PATHS": "false"}))
            django_path, django_served, _ = _ready(rd, data)
            if len(django_served) != size:
                raise RuntimeError("the two embedded servers made renditions of different sizes")
            servers["ours-django"] = (rd.server_pid(),
                                      lambda kind, n, t: http_get(rd.port, django_path, rd.auth, kind, n, size, t))
        servers["ours"] = (rp.server_pid(), lambda kind, n, t: http_get(rp.port, path, rp.auth, kind, n, size, t))
        if "cluster" not in skip:
            mt = stack.enter_context(b.moto())
            rc = stack.enter_context(b.recordplus("cluster", moto_port=mt.port, worker=True,
                                                  **{**env, "STREAM_MODE": "proxy"}))
            cluster_path, cluster_served, detail = _ready(rc, data)
            from recordplus.core.storage import keys

            key = keys.rendition(detail["public_id"], "webm" if "webm" in detail["content_type"] else "mp4")
            bucket, csize = rc.env["S3_BUCKET"], len(cluster_served)
            servers["boto3"] = (mt.proc.pid, lambda kind, n, t: boto3_get(mt.port, bucket, key, kind, n, csize, t))
            servers["ours-s3"] = (rc.server_pid(),
                                  lambda kind, n, t: http_get(rc.port, cluster_path, rc.auth, kind, n, csize, t))
        print(f"video: {size} bytes ({size / 1e6:.1f} MB)", flush=True)
        for name, (kind, clients) in WORKLOADS.items():
            runs = {server: (lambda t, run=run: run(kind, clients, t)) for server, (_, run) in servers.items()}
            measured = b.interleaved(runs, args.seconds, args.rounds, {server: pid for server, (pid, _) in servers.items()})
            for server, outcome in measured.items():
                results[name, server] = outcome

    rows = []
    for name in WORKLOADS:
        for server in ("nginx", "ours-django", "ours", "boto3", "ours-s3"):
            if (name, server) not in results:
                continue
            load, cpu = results[name, server]
            rows.append((name, server, f"{load.rps:.0f}", f"{load.mbps:.1f}", f"{load.p(0.5) * 1e3:.1f}",
                         f"{load.p(0.99) * 1e3:.1f}", f"{(cpu or 0) / max(load.requests, 1) * 1e3:.2f}",
                         f"{load.client_cpu_per_request * 1e3:.2f}", str(load.errors)))
    print(b.table(rows, ("workload", "server", "req/s", "MB/s", "p50 ms", "p99 ms", "server CPU ms/req",
                         "client CPU ms/req", "errors")))
    print()
    ratio_rows = []
    for name in WORKLOADS:
        ours_load = results[name, "ours"][0]
        if (name, "ours-django") in results:
            ratio_rows.append((name, "embedded ÷ embedded through Django", f"{ours_load.rps / results[name, 'ours-django'][0].rps:.2f}×"))
        ratio_rows.append((name, "embedded ÷ nginx", f"{ours_load.rps / results[name, 'nginx'][0].rps:.2f}×"))
        if (name, "ours-s3") in results:
            ratio_rows.append((name, "proxy from S3 ÷ boto3 get_object",
                               f"{results[name, 'ours-s3'][0].rps / results[name, 'boto3'][0].rps:.2f}×"))
    print(b.table(ratio_rows, ("workload", "ratio", "value")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
