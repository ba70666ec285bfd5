"""Run ffmpeg and ffprobe as bounded subprocesses.

Every call goes through `run()`: an argument list (never a shell), a wall-clock time limit, an
address-space limit, and only the tail of stderr kept in memory. ffmpeg's machine-readable
`-progress pipe:1` output is parsed line by line so callers can report progress.

No child outlives its job: each runs in its own process group, which is killed whole on a
timeout or when the calling thread is interrupted (a Dramatiq time limit, a shutdown), and on
Linux it asks the kernel (`PR_SET_PDEATHSIG`) for SIGKILL when the process that started it dies,
so even a `kill -9` of the server or worker leaves no ffmpeg running on.

Shared by the assembler and the transcriber, so every ffmpeg the product starts is bounded
the same way. This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import collections
import ctypes
import functools
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from recordplus.core.binaries import ffmpeg_binary, ffprobe_binary
from recordplus.core.env import envint
from recordplus.core.errors import RecordPlusError

log = logging.getLogger(__name__)

# Enough stderr to explain a failure (ffmpeg prints the reason last), little enough to store.
STDERR_TAIL_LINES = 20
# ffprobe's JSON for one file is a few kB; more than this means something is wrong.
MAX_STDOUT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Binaries and resource limits for ffmpeg/ffprobe runs, read from the environment."""

    ffmpeg: str
    ffprobe: str
    timeout_seconds: int
    memory_limit_mb: int
    # The longest recording processed; longer ones are refused after probing, and no ffmpeg
    # output is ever longer (see recordplus.core.media_limits).
    max_video_seconds: int = 4 * 3600

    @classmethod
    def from_env(cls) -> Limits:
        """Read FFMPEG_BINARY, FFPROBE_BINARY, FFMPEG_TIMEOUT_SECONDS, FFMPEG_MEMORY_LIMIT_MB,
        MAX_VIDEO_SECONDS."""
        return cls(
            ffmpeg=ffmpeg_binary(),
            ffprobe=ffprobe_binary(),
            timeout_seconds=envint("FFMPEG_TIMEOUT_SECONDS", 3600, minimum=1),
            # 0 turns the limit off (e.g. under a sanitizer that reserves huge address space).
            memory_limit_mb=envint("FFMPEG_MEMORY_LIMIT_MB", 2048, minimum=0),
            max_video_seconds=envint("MAX_VIDEO_SECONDS", 4 * 3600, minimum=1),
        )

    def timeout(self, derived: float | None) -> float:
        """A run's time limit: `derived` from the media, never above FFMPEG_TIMEOUT_SECONDS."""
        if derived is None or derived <= 0:
            return float(self.timeout_seconds)
        return float(min(self.timeout_seconds, derived))


class FFmpegError(RecordPlusError):
    """ffmpeg or ffprobe exited with an error; `stderr_tail` holds its last words.

    Permanent: the same input fails the same way again.
    """

    reason = "ffmpeg"

    def __init__(self, message: str, *, argv: Sequence[str], returncode: int | None, stderr_tail: str) -> None:
        super().__init__(message)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class FFmpegTimeout(FFmpegError):
    """The process ran past its time limit and was killed."""

    reason = "ffmpeg_timeout"


class FFmpegNotFound(FFmpegError):
    """The ffmpeg/ffprobe binary is not installed or not executable (a deployment problem,
    not the upload's fault: worth retrying once the deployment is fixed)."""

    permanent = False
    reason = "ffmpeg_missing"


@dataclass(frozen=True)
class RunResult:
    """What a finished run left behind."""

    returncode: int
    stdout: bytes
    stderr_tail: str
    elapsed: float


def _memory_limit_argv(memory_limit_mb: int) -> tuple[list[str], Callable[[], None] | None]:
    """Return a wrapper argv (util-linux `prlimit`) or, failing that, a preexec function.

    `prlimit` is preferred: `preexec_fn` runs Python between fork and exec, which the Python
    docs call unsafe in threaded programs, and Dramatiq workers are threaded.
    """
    if memory_limit_mb <= 0:
        return [], None
    limit = memory_limit_mb * 1024 * 1024
    prlimit = shutil.which("prlimit")
    if prlimit:
        return [prlimit, f"--as={limit}", "--"], None

    def _preexec() -> None:  # pragma: no cover - only where util-linux is missing
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return [], _preexec


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved once in the parent (nothing is looked up between fork and exec)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def _child_setup(memory_preexec: Callable[[], None] | None) -> Callable[[], None] | None:
    """What the child runs between fork and exec: SIGKILL when its parent dies (Linux), and the
    address-space limit where `prlimit` is missing. Elsewhere (not Linux) nothing, or only the
    limit: the process group kill still covers timeouts and interruptions.

    Only a prepared ctypes call and os functions run there (no imports, no locks, no logging),
    which is what keeps a preexec function safe enough in a threaded worker.
    """
    prctl = _prctl()
    if prctl is None:
        return memory_preexec
    parent = os.getpid()
    kill = int(signal.SIGKILL)

    def _setup() -> None:
        prctl(PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)
        if memory_preexec is not None:
            memory_preexec()

    return _setup


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # glibc reserves 64 MiB of address space per malloc arena (up to 8 per core); with an
    # RLIMIT_AS in place that reservation, not real use, would make threaded codecs fail.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    # Deterministic, parseable messages whatever the server's locale.
    env["LC_ALL"] = "C"
    return env


def run(
    argv: Sequence[str],
    *,
    timeout_seconds: float,
    memory_limit_mb: int,
    on_stdout_line: Callable[[str], None] | None = None,
) -> RunResult:
    """Run `argv` (no shell) and return its result; raise FFmpegError on a non-zero exit.

    The child runs in its own process group, dies with its parent (Linux), and its group is
    killed on timeout or when this thread is interrupted. stdout is kept (up to MAX_STDOUT_BYTES) unless `on_stdout_line` is given, in which case each
    line is handed to it instead (ffmpeg's `-progress pipe:1`). Only the last
    STDERR_TAIL_LINES lines of stderr are kept. On timeout the whole process group is killed and
    FFmpegTimeout is raised.
    """
    wrapper, preexec = _memory_limit_argv(memory_limit_mb)
    full_argv = [*wrapper, *argv]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            full_argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_child_env(),
            preexec_fn=_child_setup(preexec),
            # Own process group so a timeout kills ffmpeg and anything it spawned.
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        raise FFmpegNotFound(
            f"{argv[0]} is not installed", argv=argv, returncode=None, stderr_tail=str(exc)
        ) from exc

    stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    stdout_parts: list[bytes] = []
    stdout_size = [0]

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                stderr_tail.append(line)

    def read_stdout() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if on_stdout_line is not None:
                try:
                    on_stdout_line(raw.decode("utf-8", "replace").rstrip("\n"))
                except Exception:  # a progress callback must never break the conversion
                    log.exception("progress callback failed")
            elif stdout_size[0] < MAX_STDOUT_BYTES:
                stdout_parts.append(raw)
                stdout_size[0] += len(raw)

    readers = [threading.Thread(target=read_stderr, daemon=True), threading.Thread(target=read_stdout, daemon=True)]
    for reader in readers:
        reader.start()
    try:
        returncode = proc.wait(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        for reader in readers:
            reader.join(timeout=5)
        tail = "\n".join(stderr_tail)
        log.warning("%s killed after %ss; stderr tail:\n%s", argv[0], timeout_seconds, tail)
        raise FFmpegTimeout(
            f"{os.path.basename(argv[0])} took longer than {timeout_seconds:g} s and was stopped",
            argv=argv,
            returncode=None,
            stderr_tail=tail,
        ) from None
    except BaseException:
        # Interrupted (e.g. the worker is shutting down): never leave an orphan ffmpeg behind.
        _kill_group(proc)
        raise
    for reader in readers:
        reader.join()
    elapsed = time.monotonic() - started
    tail = "\n".join(stderr_tail)
    if returncode != 0:
        log.warning("%s exited %s after %.1fs; stderr tail:\n%s", argv[0], returncode, elapsed, tail)
        raise FFmpegError(
            f"{os.path.basename(argv[0])} exited with status {returncode}",
            argv=argv,
            returncode=returncode,
            stderr_tail=tail,
        )
    return RunResult(returncode=returncode, stdout=b"".join(stdout_parts), stderr_tail=tail, elapsed=elapsed)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class ProgressParser:
    """Turn ffmpeg `-progress` key=value lines into a 0..1 fraction.

    The fraction is output time over the expected duration when the duration is known, else
    output bytes over the expected size (a stream copy writes about as many bytes as it reads).
    """

    def __init__(
        self,
        callback: Callable[[float], None],
        *,
        duration: float | None,
        expected_size: int | None = None,
    ) -> None:
        self._callback = callback
        self._duration = duration if duration and duration > 0 else None
        self._expected_size = expected_size if expected_size and expected_size > 0 else None
        self._last = -1.0

    def __call__(self, line: str) -> None:
        key, _, value = line.partition("=")
        fraction: float | None = None
        if key == "out_time_us" and self._duration and value.strip().lstrip("-").isdigit():
            fraction = int(value) / 1_000_000 / self._duration
        elif key == "total_size" and not self._duration and self._expected_size and value.strip().isdigit():
            fraction = int(value) / self._expected_size
        elif key == "progress" and value.strip() == "end":
            fraction = 1.0
        if fraction is None:
            return
        fraction = min(max(fraction, 0.0), 1.0)
        # Report in 1% steps: the callback may write to the database.
        if fraction >= 1.0 or fraction - self._last >= 0.01:
            self._last = fraction
            self._callback(fraction)


def ffmpeg(
    args: Sequence[str],
    *,
    limits: Limits | None = None,
    progress: Callable[[float], None] | None = None,
    duration: float | None = None,
    expected_size: int | None = None,
    timeout_seconds: float | None = None,
) -> RunResult:
    """Run ffmpeg with `args` (inputs, filters, outputs) quietly, overwriting outputs.

    `timeout_seconds` is the limit derived from the media (see core.media_limits); the run
    never gets more than FFMPEG_TIMEOUT_SECONDS."""
    limits = limits or Limits.from_env()
    parser = ProgressParser(progress, duration=duration, expected_size=expected_size) if progress else None
    argv = [limits.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning", "-y"]
    if parser is not None:
        argv += ["-progress", "pipe:1"]
    argv += list(args)
    return run(
        argv,
        timeout_seconds=limits.timeout(timeout_seconds),
        memory_limit_mb=limits.memory_limit_mb,
        on_stdout_line=parser or (lambda _line: None),
    )


def ffprobe(args: Sequence[str], *, limits: Limits | None = None, timeout_seconds: float | None = None) -> RunResult:
    """Run ffprobe with `args`; stdout (e.g. its JSON) is returned in the result."""
    limits = limits or Limits.from_env()
    argv = [limits.ffprobe, "-hide_banner", "-loglevel", "error", *args]
    return run(argv, timeout_seconds=limits.timeout(timeout_seconds), memory_limit_mb=limits.memory_limit_mb)


def ffmpeg_stdout(args: Sequence[str], *, limits: Limits | None = None, timeout_seconds: float | None = None) -> bytes:
    """Run ffmpeg with `args` and return what it wrote to stdout (small outputs only)."""
    limits = limits or Limits.from_env()
    argv = [limits.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", *args]
    return run(argv, timeout_seconds=limits.timeout(timeout_seconds), memory_limit_mb=limits.memory_limit_mb).stdout
