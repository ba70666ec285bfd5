"""ObjectStore on a local folder (the embedded mode): keys are relative paths under `root`.

Writes go to a temporary file in the same folder and are renamed into place, so a reader never
sees half an object and a killed run leaves only a `.tmp-*`/`.stitch-*` file to sweep.
Recordings are private: files are 0600 and the folders made here 0700, whatever the umask.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from recordplus.core.storage.base import COPY_BUFFER, ConcatResult, HashingReader, ObjectStore, Piece, Progress, Written

_TEMP_PREFIXES = (".tmp-", ".stitch-")
FILE_MODE = 0o600
DIR_MODE = 0o700


_WRITER = re.compile(r"^\.(?:tmp|stitch)-p(?P<pid>[0-9]+)-")


def _writer_alive(name: str) -> bool:
    """Whether the process that is writing temporary file `name` still runs (this one included:
    the transcriber of an embedded server writes next to the assembler that cleans up). A name
    without a pid (an older version's) counts as abandoned."""
    match = _WRITER.match(name)
    if match is None:
        return False
    pid = int(match["pid"])
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _make_dirs(folder: Path) -> list[Path]:
    """`folder` and its missing parents, each made 0700 (mkdir's mode is only an upper bound);
    returns the folders made here."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    made_here = []
    for made in reversed(missing):
        try:
            made.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # made by a concurrent writer
        os.chmod(made, DIR_MODE)
        made_here.append(made)
    return made_here


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore(ObjectStore):
    kind = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file behind `key`; keys never leave the root."""
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"object key {key!r} points outside the storage root")
        return path

    def _atomic_write(self, dest: Path, prefix: str, fill, *, durable: bool = False) -> None:  # noqa: ANN001
        made = _make_dirs(dest.parent)
        # The writer's pid in the name: remove_temporaries leaves a live process's files alone.
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f"{prefix}p{os.getpid()}-")  # 0600
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                if durable:
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if durable:
            # The file's name (and the folders made for it) must survive a power loss too.
            for folder in {dest.parent, *(m.parent for m in made)}:
                _fsync_dir(folder)

    def write(self, key: str, fileobj: IO[bytes], *, content_type: str = "application/octet-stream") -> Written:
        reader = HashingReader(fileobj)

        def fill(out: IO[bytes]) -> None:
            while chunk := reader.read(COPY_BUFFER):
                out.write(chunk)

        # Durable before it returns: a chunk is answered 200 only after this (power loss included).
        self._atomic_write(self.path(key), ".tmp-", fill, durable=True)
        return reader.written()

    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        if end < start:
            return
        remaining = end - start + 1
        with open(self.path(key), "rb") as fileobj:
            fileobj.seek(start)
            while remaining > 0:
                data = fileobj.read(min(COPY_BUFFER, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        # A writer may still be working under the prefix (a delete during assembly: the pipeline
        # stops at its next step and deletes again), and another delete of the same video may
        # run at once, so files and folders may come and go here: os.walk passes over a folder
        # that vanished under it (rglob raised FileNotFoundError), and so does each unlink/rmdir.
        deleted = 0
        start = self.path(prefix) if prefix.endswith("/") else self.path(prefix).parent
        if not start.exists():
            return 0
        root = self.root.resolve()
        for folder, _subfolders, files in os.walk(start, topdown=False):
            base = Path(folder)
            for name in files:
                path = base / name
                if path.relative_to(root).as_posix().startswith(prefix):
                    try:
                        path.unlink()
                    except FileNotFoundError:
                        continue
                    deleted += 1
            # Empty folders left behind would pile up, one per deleted video.
            if base != start or prefix.endswith("/"):
                _remove_if_empty(base)
        return deleted

    def download(self, key: str, dest: Path) -> int:
        source = self.path(key)
        _make_dirs(dest.parent)
        dest.unlink(missing_ok=True)
        try:
            os.link(source, dest)  # same filesystem: no copy at all (objects are never changed in place)
        except OSError:
            shutil.copyfile(source, dest)
            os.chmod(dest, FILE_MODE)
        return dest.stat().st_size

    def concat(self, pieces: Sequence[Piece], dest_key: str, progress: Progress | None = None) -> ConcatResult:
        total = sum(p.size for p in pieces) or 1
        done = 0

        def fill(out: IO[bytes]) -> None:
            nonlocal done
            for piece in pieces:
                with open(self.path(piece.key), "rb") as src:
                    while data := src.read(COPY_BUFFER):
                        out.write(data)
                        done += len(data)
                if progress:
                    progress(done / total)

        self._atomic_write(self.path(dest_key), ".stitch-", fill)
        return ConcatResult(size=done)

    def presigned_url(
        self, key: str, *, content_type: str | None = None, filename: str | None = None, attachment: bool = False
    ) -> str | None:
        return None  # files are served through the API

    def remove_temporaries(self, prefix: str) -> int:
        folder = self.path(prefix)
        if not folder.is_dir():
            return 0
        removed = 0
        for stale in folder.rglob(".*"):
            if stale.is_file() and stale.name.startswith(_TEMP_PREFIXES) and not _writer_alive(stale.name):
                stale.unlink(missing_ok=True)
                removed += 1
        return removed

    def ensure_ready(self) -> None:
        _make_dirs(self.root)

    def ping(self) -> None:
        self.ensure_ready()
        if not os.access(self.root, os.W_OK):
            raise OSError(f"{self.root} is not writable")


def _remove_if_empty(folder: Path) -> None:
    """Remove `folder` if it is (still) empty; one that vanished or filled meanwhile is left."""
    try:
        folder.rmdir()
    except FileNotFoundError:
        pass
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
