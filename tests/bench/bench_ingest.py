"""Benchmark: chunk ingest against nginx (PUT), the reference tus server and boto3 → moto.

Not collected by pytest. Run from the repository root:

    uv run --frozen --all-extras --all-groups python tests/bench/bench_ingest.py [--seconds 6] [--rounds 3]
        [--django] [--skip cluster,tus] [--env NAME=VALUE]

Workloads, each for `--seconds` per server, the servers taking turns in `--rounds` (a background
load that changes skews them alike), same bytes everywhere:

- `1 MiB × 1`: 1 MiB chunks, one client, sequential (a fast uploader).
- `16 KiB × 8`: 16 KiB chunks, eight clients at once (many small pieces: per-request cost).

Servers: RecordPlus embedded (SQLite, disk; `--django` adds it with HOT_PATHS=false, every request
through Django, for the before/after of the lean route; PATCH `update_video_chunck?chunk_index=N` with a raw
body and a bearer token, each client its own video), nginx 1 worker (`dav_methods PUT`, one
file per chunk), `@tus/server` + `@tus/file-store` (one upload per client, PATCH at the
offset), RecordPlus cluster (PostgreSQL, RabbitMQ, S3 on moto) and boto3 `put_object` of the
same chunks straight to the same moto. Ratios are RecordPlus ÷ baseline in this run. The
client's own CPU per request is printed: against nginx it shows the load generator's ceiling.
Durability differs: RecordPlus fsyncs each chunk and commits its row (SQLite synchronous=FULL)
before 200; nginx, tus and moto write to the page cache only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench import baselines as b  # noqa: E402

WORKLOADS = {"1 MiB × 1": (1024 * 1024, 1), "16 KiB × 8": (16 * 1024, 8)}
MAX_CHUNKS_PER_VIDEO = 9_999


def _payload(size: int) -> bytes:
    return os.urandom(size)


def ours(rp: b.RecordPlus, size: int, clients: int, seconds: float) -> b.Load:
    data = _payload(size)
    headers = {**rp.auth, "Content-Type": "application/octet-stream"}

    def make_step(client: int) -> b.Step:
        video_id = b.new_video(rp, f"ingest {client}")
        call = b.Call(rp.port)

        def step(_client: int, n: int) -> tuple[bool, int]:
            status, _ = call.request("PATCH", f"/api/record/videos/{video_id}/update_video_chunck?chunk_index={n}",
                                     data, headers)
            return status == 200, size

        return step

    return b.run_load(clients, seconds, make_step, max_requests=MAX_CHUNKS_PER_VIDEO)


def nginx_put(server: b.Server, size: int, clients: int, seconds: float) -> b.Load:
    data = _payload(size)

    def make_step(client: int) -> b.Step:
        call = b.Call(server.port)

        def step(_client: int, n: int) -> tuple[bool, int]:
            status, _ = call.request("PUT", f"/upload/c{client}/{n}", data, {"Content-Type": "application/octet-stream"})
            return status in (201, 204), size

        return step

    return b.run_load(clients, seconds, make_step)


def tus(server: b.Server, size: int, clients: int, seconds: float) -> b.Load:
    data = _payload(size)

    def make_step(client: int) -> b.Step:
        call = b.Call(server.port)
        path = b.tus_create(call.conn, 1 << 40)

        def step(_client: int, n: int) -> tuple[bool, int]:
            status, _ = call.request("PATCH", path, data, {
                "Tus-Resumable": "1.0.0", "Upload-Offset": str(n * size),
                "Content-Type": "application/offset+octet-stream"})
            return status == 204, size

        return step

    return b.run_load(clients, seconds, make_step)


def boto3_put(moto_port: int, size: int, clients: int, seconds: float) -> b.Load:
    data = _payload(size)
    s3 = b.s3_client(moto_port)
    bucket = "bench-baseline"
    s3.create_bucket(Bucket=bucket)

    def make_step(client: int) -> b.Step:
        def step(_client: int, n: int) -> tuple[bool, int]:
            s3.put_object(Bucket=bucket, Key=f"c{client}/{n}", Body=data)
            return True, size

        return step

    return b.run_load(clients, seconds, make_step)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per workload and server (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="turns the servers take within those seconds (default 3)")
    parser.add_argument("--skip", default="", help="comma-separated: tus, cluster")
    parser.add_argument("--nginx-workers", type=int, default=1)
    parser.add_argument("--django", action="store_true", help="also RecordPlus with HOT_PATHS=false (all through Django)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for RecordPlus")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    env = dict(item.split("=", 1) for item in args.env)
    results: dict[tuple[str, str], tuple[b.Load, float | None]] = {}

    with contextlib.ExitStack() as stack:
        ng = stack.enter_context(b.nginx(args.nginx_workers))
        servers: dict[str, tuple[int, Any]] = {"nginx": (ng.proc.pid, lambda size, n, t: nginx_put(ng, size, n, t))}
        if "tus" not in skip:
            ts = stack.enter_context(b.tus_server())
            servers["tus"] = (ts.proc.pid, lambda size, n, t: tus(ts, size, n, t))
        if args.django:
            rd = stack.enter_context(b.recordplus("embedded", **{**env, "HOT_PATHS": "false"}))
            servers["ours-django"] = (rd.server_pid(), lambda size, n, t: ours(rd, size, n, t))
        rp = stack.enter_context(b.recordplus("embedded", **env))
        servers["ours"] = (rp.server_pid(), lambda size, n, t: ours(rp, size, n, t))
        if "cluster" not in skip:
            mt = stack.enter_context(b.moto())
            servers["boto3"] = (mt.proc.pid, lambda size, n, t: boto3_put(mt.port, size, n, t))
            rc = stack.enter_context(b.recordplus("cluster", moto_port=mt.port, **env))
            servers["ours-s3"] = (rc.server_pid(), lambda size, n, t: ours(rc, size, n, t))
        for name, (size, clients) in WORKLOADS.items():
            runs = {server: (lambda t, run=run: run(size, clients, t)) for server, (_, run) in servers.items()}
            measured = b.interleaved(runs, args.seconds, args.rounds, {server: pid for server, (pid, _) in servers.items()})
            for server, outcome in measured.items():
                results[name, server] = outcome

    rows = []
    for name in WORKLOADS:
        for server in ("nginx", "tus", "ours-django", "ours", "boto3", "ours-s3"):
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
        for base in ("nginx", "tus"):
            if (name, base) in results:
                ratio_rows.append((name, f"embedded ÷ {base}", f"{ours_load.rps / results[name, base][0].rps:.2f}×"))
        if (name, "ours-s3") in results:
            ratio_rows.append((name, "cluster (S3) ÷ boto3 put_object",
                               f"{results[name, 'ours-s3'][0].rps / results[name, 'boto3'][0].rps:.2f}×"))
    print(b.table(ratio_rows, ("workload", "ratio", "value")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
