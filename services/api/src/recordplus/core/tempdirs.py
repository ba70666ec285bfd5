"""The workers' scratch folders, and the sweep that removes those a killed process left behind.

The assembler and the transcriber work in `recordplus-assemble-*` / `recordplus-transcribe-*`
folders under the temp directory and remove them when a job ends; a process killed with
SIGKILL (OOM, a node drained hard) cannot. (`serve --workers N` shares its metrics through a
`recordplus-metrics-serve-*` folder, swept the same way.) `make_workdir` puts the creating process's id in the
name (`recordplus-assemble-7-p4242-x8a1`), and `sweep_stale_workdirs`, run when a worker or an
embedded server starts, removes a folder only when all of these hold:

- its name is one of ours (a known prefix followed by the `-p<pid>-` marker),
- it belongs to this user and is a real folder (not a symlink),
- it was last changed before this process started,
- the process that made it is gone.

Nothing else in the temp directory is looked at, let alone touched. This module imports
neither Django nor Dramatiq.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

PREFIXES = ("recordplus-assemble-", "recordplus-transcribe-", "recordplus-metrics-")
# The label is a video id ("7-") or a word and an id ("live-7-", the live decoder's): a label of
# letters that the pattern did not allow kept every killed live decode's folder for good.
_OURS = re.compile(
    r"^(?:recordplus-assemble-|recordplus-transcribe-|recordplus-metrics-)(?:[a-z]+-)?(?:[0-9]+-)?p(?P<pid>[0-9]+)-[A-Za-z0-9_]+$"
)
_LABEL = re.compile(r"^(?:[a-z]+-)?[0-9]+$|^[a-z]+$")


def make_workdir(prefix: str, *, label: str = "", root: Path | None = None) -> Path:
    """A new private folder named `<prefix><label->p<pid>-<random>` (mode 0700)."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown scratch prefix {prefix!r}")
    if label and not _LABEL.match(label):
        raise ValueError(f"scratch label {label!r} would not be recognised by the sweep")
    name = f"{prefix}{label + '-' if label else ''}p{os.getpid()}-"
    return Path(tempfile.mkdtemp(prefix=name, dir=root))


def _process_started_at() -> float:
    """Wall-clock time this process started (Linux: from /proc), else now.

    The boot time comes from /proc/uptime (1/100 s), not /proc/stat's `btime`: that one is
    truncated to the second, which made a process started less than a second after a killed
    one take the dead one's folder for "changed after I started" and keep it for good."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = time.time() - float(Path("/proc/uptime").read_text().split()[0])
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.time()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def sweep_stale_workdirs(root: Path | None = None, *, started_at: float | None = None) -> list[Path]:
    """Remove our scratch folders under `root` (default: the temp directory) left by processes
    that are gone; returns what was removed. Never raises: a sweep is housekeeping."""
    base = Path(root) if root is not None else Path(tempfile.gettempdir())
    started = _process_started_at() if started_at is None else started_at
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError as exc:
        log.warning("cannot sweep %s: %s", base, exc)
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        match = _OURS.match(entry.name)
        if match is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue
        if info.st_mtime >= started or _alive(int(match["pid"])):
            continue
        path = Path(entry.path)
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("removed %s scratch folder(s) left by stopped processes: %s", len(removed), [p.name for p in removed])
    return removed
