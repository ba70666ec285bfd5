"""A poison message — a job that kills its worker (OOM, SIGKILL) without ever raising — is not
redelivered forever: each claim counts an attempt on the row, and after ASSEMBLE_MAX_ATTEMPTS
the video is `failed` with a reason the owner can read.

Real RabbitMQ (a private virtual host), PostgreSQL and moto's S3; real worker processes whose
assembly step SIGKILLs its own process (a launcher patches the pipeline before the worker
starts — nothing in the product knows about it). Events are waited for, never slept on.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import boto3
import psycopg

from tests.conftest import RECORDPLUS, Process, Stack, cluster_env, free_port, fresh_postgres_database, fresh_rabbitmq_vhost
from tests.support import make_webm, upload

MAX_ATTEMPTS = 2

LAUNCHER = '''
import os
import signal
import sys

from recordplus import cli

_start_worker = cli._start_worker


def start_dying_worker(queues, threads):
    from recordplus.assembler import pipeline
    from recordplus.transcriber import job

    def die(what, *rest):
        video = getattr(what, "video", what)  # the assembly gets a Video, the transcription a Transcript
        with open(os.environ["DEATHS_FILE"], "a") as deaths:
            deaths.write(f"{video.pk}\\n")
        os.kill(os.getpid(), signal.SIGKILL)  # like the OOM killer: no exception, no ack

    if os.environ["DIE_IN"] == "assemble":
        pipeline._assemble = die
    else:
        job._attempt = die
    return _start_worker(queues, threads)


cli._start_worker = start_dying_worker
sys.exit(cli.main())
'''


def attempts_on_row(database: str, video_id: int) -> int:
    with psycopg.connect(database) as conn:
        row = conn.execute("SELECT assembly_attempts FROM videos_video WHERE id = %s", (video_id,)).fetchone()
    return int(row[0])


def test_a_job_that_kills_its_worker_fails_after_the_attempts(tmp_path: Path, moto_server: str) -> None:
    webm = make_webm(tmp_path / "poison.webm", seconds=2).read_bytes()
    launcher = tmp_path / "dying_worker.py"
    launcher.write_text(LAUNCHER)
    deaths = tmp_path / "deaths.txt"
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        bucket = f"poison-{uuid.uuid4().hex[:8]}"
        env = cluster_env(database, broker, moto_server, bucket)
        env.update(
            ASSEMBLE_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
            ASSEMBLE_LEASE_SECONDS="3",  # a dead worker's job is taken over after 3 s
            WORKER_METRICS_PORT="0",
            DEATHS_FILE=str(deaths),
            DIE_IN="assemble",
        )
        s3 = boto3.client(
            "s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        stack = Stack(mode="cluster", env=env, workdir=tmp_path, s3=s3, bucket=bucket, port=free_port())
        stack.run("migrate")
        workers: list[Process] = []

        def start_worker() -> None:
            worker = Process(
                f"worker-{len(workers)}", [sys.executable, str(launcher), "worker", "--queues", "assemble"], env,
                tmp_path / f"worker-{len(workers)}.log",
            )
            worker.start()
            workers.append(worker)

        try:
            start_worker()
            stack.start_server()
            video_id = upload(stack, webm)
            deadline = time.monotonic() + 300
            video: dict = {}
            with stack.client() as client:
                while time.monotonic() < deadline:
                    video = client.get(f"/api/record/videos/{video_id}").json()
                    if video["status"] == "failed":
                        break
                    assert video["status"] == "assembling", video
                    if workers[-1].proc.poll() is not None:  # it died on the job: the next one comes up
                        assert len(workers) <= MAX_ATTEMPTS + 1, "the job kept being redelivered"
                        start_worker()
                    stack.assert_alive()
                    time.sleep(0.2)
            assert video.get("status") == "failed", f"still {video.get('status')}\n" + "\n".join(w.tail() for w in workers)
            assert f"gave up after {MAX_ATTEMPTS} attempts" in video["error"]
            assert "worker stopped during processing each time" in video["error"]
            assert deaths.read_text().split() == [str(video_id)] * MAX_ATTEMPTS  # each allowed attempt ran, once
            assert attempts_on_row(database, video_id) == MAX_ATTEMPTS + 1  # the last claim gave up
            assert workers[-1].proc.poll() is None  # the claim that gave up did not run the job
        finally:
            stack.stop()
            for worker in workers:
                worker.stop()


def test_a_transcription_that_kills_its_worker_fails_after_the_attempts(tmp_path: Path, moto_server: str) -> None:
    webm = make_webm(tmp_path / "poison-talk.webm", seconds=2).read_bytes()
    launcher = tmp_path / "dying_worker.py"
    launcher.write_text(LAUNCHER)
    deaths = tmp_path / "deaths.txt"
    with fresh_postgres_database() as database, fresh_rabbitmq_vhost() as broker:
        bucket = f"poison-{uuid.uuid4().hex[:8]}"
        env = cluster_env(database, broker, moto_server, bucket)
        env.update(
            TRANSCRIBE_MAX_ATTEMPTS="1",
            # The lease is the time limit plus a 2 min margin: the shortest allowed, 10 s.
            TRANSCRIBE_TIME_LIMIT="10",
            TRANSCRIBE_ENGINE="faster-whisper",
            WORKER_METRICS_PORT="0",
            DEATHS_FILE=str(deaths),
            DIE_IN="transcribe",
        )
        s3 = boto3.client(
            "s3", endpoint_url=moto_server, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        stack = Stack(mode="cluster", env=env, workdir=tmp_path, s3=s3, bucket=bucket, port=free_port())
        stack.run("migrate")
        stack.add("assembler", [RECORDPLUS, "worker", "--queues", "assemble"])
        workers: list[Process] = []

        def start_worker() -> None:
            worker = Process(
                f"transcriber-{len(workers)}", [sys.executable, str(launcher), "worker", "--queues", "transcribe"], env,
                tmp_path / f"transcriber-{len(workers)}.log",
            )
            worker.start()
            workers.append(worker)

        try:
            start_worker()
            stack.start_server()
            video_id = upload(stack, webm)
            assert stack.wait_for(video_id)["status"] == "ready"
            deadline = time.monotonic() + 400
            transcription: dict = {}
            with stack.client() as client:
                while time.monotonic() < deadline:
                    transcription = client.get(f"/api/record/videos/{video_id}").json()["transcription"] or {}
                    if transcription.get("status") == "failed":
                        break
                    if workers[-1].proc.poll() is not None:
                        assert len(workers) <= 2, "the job kept being redelivered"
                        start_worker()
                    stack.assert_alive()
                    time.sleep(0.5)
            assert transcription.get("status") == "failed", f"{transcription}\n" + "\n".join(w.tail() for w in workers)
            assert "gave up after 1 attempts" in transcription["error"]
            assert deaths.read_text().split() == [str(video_id)]  # the one allowed attempt ran, once
            assert workers[-1].proc.poll() is None
        finally:
            stack.stop()
            for worker in workers:
                worker.stop()
