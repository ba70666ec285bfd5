"""Two transcriptions at once in one process (issue 11 follow-up).

The bug: two live windows of two recordings transcribed at once on two worker threads froze a
cluster worker for good, both threads inside faster-whisper's feature extractor (a numpy matmul
into OpenBLAS, whose thread pool two Python threads must not enter at once: numpy/numpy#17752).
The fix: one engine call at a time per process (`engines.engine_turn`), plus
OPENBLAS_NUM_THREADS=1 set by the `recordplus` command before numpy loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np

from recordplus.transcriber import engines
from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.runner import transcribe_wav
from recordplus.transcripts.records import Segment

REPO = Path(__file__).resolve().parents[2]
# A deadline for the whole run, not a timing assertion: the runs take seconds; a deadlock never ends.
HANG_DEADLINE_SECONDS = 600


class OverlapProbe:
    """A fake engine that notices a second call entering while one is running: each call waits
    at a two-party barrier, which only a concurrent call can pass."""

    name = "probe"
    model_label = "probe"

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2)
        self.overlapped = False
        self.calls = 0

    def transcribe(self, samples: np.ndarray, language: str | None = None, on_progress=None):
        self.calls += 1
        try:
            self.barrier.wait(timeout=1.0)  # passes only if another call is inside right now
            self.overlapped = True
        except threading.BrokenBarrierError:
            self.barrier.reset()
        return "en", [Segment(0.0, 1.0, "hello", [])]


def test_engine_calls_of_two_threads_never_overlap(sentence_wav: Path) -> None:
    """Catches the lock around engine.transcribe removed from the runner (two threads then meet
    inside the engine, which is where the worker froze)."""
    probe = OverlapProbe()
    settings = TranscribeSettings(engine="faster-whisper")
    threads = [threading.Thread(target=transcribe_wav, args=(sentence_wav, probe, settings)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert probe.calls == 2
    assert not probe.overlapped, "two engine calls ran at once in one process"


def test_engine_turn_releases_on_error() -> None:
    """Catches a turn kept after an engine error (every later transcription would then wait forever)."""
    try:
        with engines.engine_turn():
            raise RuntimeError("engine failed")
    except RuntimeError:
        pass
    assert engines._ENGINE_LOCK.acquire(blocking=False)
    engines._ENGINE_LOCK.release()


def test_two_real_transcriptions_at_once_both_finish(speech_wav: Path, tmp_path: Path) -> None:
    """Four threads of one process transcribe the test speech with tiny.en at once, as the
    worker's threads did; all must finish (bounded by a deadline) with the single-run text.
    Runs in a child process with OPENBLAS_NUM_THREADS unset, so the lock alone must hold."""
    script = textwrap.dedent(
        f"""
        import json, sys, threading
        from pathlib import Path
        from recordplus.transcriber.config import TranscribeSettings
        from recordplus.transcriber.engines import load_engine
        from recordplus.transcriber.runner import transcribe_wav

        settings = TranscribeSettings(engine="faster-whisper", threads=2)
        engine = load_engine(settings)
        wav = Path({str(speech_wav)!r})
        alone = transcribe_wav(wav, engine, settings).text
        texts = []
        def run():
            texts.append(transcribe_wav(wav, engine, settings).text)
        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        print(json.dumps({{"alone": alone, "texts": texts}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env["PYTHONFAULTHANDLER"] = "1"
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], check=False, cwd=REPO, env=env, capture_output=True, text=True,
            timeout=HANG_DEADLINE_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"concurrent transcriptions hung: {exc.stderr}") from exc
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(out["texts"]) == 4
    assert all(text == out["alone"] for text in out["texts"]), out


def test_recordplus_command_sets_openblas_threads_before_numpy() -> None:
    """Catches OPENBLAS_NUM_THREADS set after numpy was imported (too late: OpenBLAS reads it
    when numpy loads) or not at all."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    code = "import sys, recordplus.cli, os; print('numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'))"
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "1"]
