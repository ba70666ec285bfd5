"""No ffmpeg outlives its job, and no scratch folder outlives a killed worker (issue 10 item 8).

Real processes: a helper Python process starts a long ffmpeg through our runner and is killed
with SIGKILL (the ffmpeg must die with it: PR_SET_PDEATHSIG); a stand-in ffmpeg that spawns a
child and prints warnings runs past its limit (its whole process group dies, and the reason
says it took too long rather than quoting the warnings); the start-up sweep removes our stale
scratch folders in a private temp dir and nothing else.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recordplus.core.errors import MediaBeyondLimits
from recordplus.core.ffmpeg import FFmpegTimeout, Limits, ffmpeg
from recordplus.core.tempdirs import make_workdir, sweep_stale_workdirs
from tests.needs import require

DEADLINE = 30.0


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for a reaper (it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return True
    return state in ("Z", "X")


def _wait_for(condition, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {DEADLINE}s: {what}")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.fixture
def real_ffmpeg() -> str:
    path = shutil.which("ffmpeg")
    require(path is not None, "ffmpeg (Debian package ffmpeg)")
    require(sys.platform.startswith("linux") and Path("/proc/self/task").exists(), "Linux /proc")
    return path  # type: ignore[return-value]


def test_it_kills_ffmpeg_when_its_parent_is_killed(real_ffmpeg: str) -> None:
    # The helper runs an endless ffmpeg through our runner, in a worker thread like Dramatiq's.
    code = (
        "import threading\n"
        "from recordplus.core.ffmpeg import Limits, ffmpeg\n"
        f"limits = Limits(ffmpeg={real_ffmpeg!r}, ffprobe='ffprobe', timeout_seconds=600, memory_limit_mb=2048)\n"
        "job = threading.Thread(target=ffmpeg, args=(['-re', '-f', 'lavfi', '-i', 'testsrc2', '-f', 'null', '-'],),"
        " kwargs={'limits': limits})\n"
        "job.start(); job.join()\n"
    )
    helper = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        child: list[int] = []

        def ffmpeg_started() -> bool:
            child[:] = [pid for pid in _children(helper.pid) if _comm(pid) == "ffmpeg"]
            return bool(child)

        _wait_for(ffmpeg_started, "the helper's ffmpeg starts")
        helper.send_signal(signal.SIGKILL)
        helper.wait(timeout=DEADLINE)
        _wait_for(lambda: _gone(child[0]), f"ffmpeg {child[0]} dies with its killed parent")
    finally:
        if helper.poll() is None:
            helper.kill()
            helper.wait()
        for pid in _children(helper.pid) if helper.poll() is None else []:
            os.kill(pid, signal.SIGKILL)


def _stand_in(tmp_path: Path) -> tuple[Path, Path]:
    """A fake ffmpeg that starts a child, prints warnings as ffmpeg does, and never ends."""
    pidfile = tmp_path / "grandchild.pid"
    script = tmp_path / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        f"sleep 300 & echo $! > {pidfile}\n"
        "echo '[h264 @ 0x5581] non-existing PPS 0 referenced' >&2\n"
        "echo '[h264 @ 0x5581] decode_slice_header error' >&2\n"
        "wait\n"
    )
    script.chmod(0o755)
    return script, pidfile


def test_it_kills_the_whole_group_and_says_it_took_too_long(tmp_path: Path) -> None:
    script, pidfile = _stand_in(tmp_path)
    limits = Limits(ffmpeg=str(script), ffprobe="ffprobe", timeout_seconds=600, memory_limit_mb=0)
    with pytest.raises(FFmpegTimeout) as caught:
        ffmpeg(["-i", "in.webm", "out.mp4"], limits=limits, timeout_seconds=1)
    assert str(caught.value) == "ffmpeg took longer than 1 s and was stopped"
    assert "non-existing PPS" in caught.value.stderr_tail  # kept for the log, not for the user
    grandchild = int(pidfile.read_text())
    _wait_for(lambda: _gone(grandchild), "the stand-in's own child dies with its group")


def test_a_conversion_timeout_reads_as_a_timeout_not_as_warnings(tmp_path: Path, real_ffmpeg: str) -> None:
    from recordplus.assembler.probe import probe
    from recordplus.assembler.renditions import make_rendition

    sample = tmp_path / "in.avi"
    subprocess.run([real_ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=10:duration=1", "-c:v", "mpeg4", str(sample)], check=True)
    facts = probe(sample)
    script, _ = _stand_in(tmp_path)
    limits = dataclasses.replace(Limits.from_env(), ffmpeg=str(script), timeout_seconds=1)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(MediaBeyondLimits) as caught:
        make_rendition(sample, facts, out, limits=limits)
    assert str(caught.value) == "The video could not be converted for playback: ffmpeg took longer than 1 s and was stopped"


def test_the_sweep_removes_only_our_stale_folders(tmp_path: Path) -> None:
    root = tmp_path / "tmp"
    root.mkdir()
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    require(_gone(dead), "a pid that is no longer in use")
    stale = root / f"recordplus-assemble-7-p{dead}-abc123"
    stale_transcribe = root / f"recordplus-transcribe-p{dead}-x_9y"
    stale_live = root / f"recordplus-assemble-live-12-p{dead}-ye41r1sl"  # the live decoder's
    (stale / "media").mkdir(parents=True)
    (stale / "media" / "source").write_bytes(b"x" * 1000)
    stale_transcribe.mkdir()
    stale_live.mkdir()
    mine = make_workdir("recordplus-assemble-", label="8", root=root)  # a live process's (ours)
    mine_live = make_workdir("recordplus-assemble-", label="live-8", root=root)
    with pytest.raises(ValueError):
        make_workdir("recordplus-assemble-", label="Live_8", root=root)  # the sweep could never match it
    keep = [
        mine,
        root / "recordplus-assemble-9-unmarked",  # not named by our marker
        root / f"someone-else-p{dead}-abc",
        root / "unrelated",
    ]
    for path in keep[1:]:
        path.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("keep")
    link = root / f"recordplus-assemble-3-p{dead}-link"
    link.symlink_to(outside, target_is_directory=True)
    as_file = root / f"recordplus-transcribe-p{dead}-file"
    as_file.write_text("a file, not a folder")
    fresh = root / f"recordplus-assemble-4-p{dead}-new"  # changed after this process started
    fresh.mkdir()
    before = time.time() - 100
    for path in [stale, stale_transcribe, stale_live, *keep, link, as_file]:
        os.utime(path, (before - 1000, before - 1000), follow_symlinks=False)

    removed = sweep_stale_workdirs(root, started_at=before)

    assert sorted(removed) == sorted([stale, stale_transcribe, stale_live])
    assert not stale.exists() and not stale_transcribe.exists() and not stale_live.exists()
    for path in [*keep, mine_live, link, as_file, fresh]:
        assert os.path.lexists(path), path
    assert (outside / "precious").read_text() == "keep"
