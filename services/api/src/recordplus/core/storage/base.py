"""The ObjectStore interface every storage backend implements, and the records it returns.

Callers (the API, the assembler, the transcriber) only ever see this interface; which backend
it is was decided once, in `recordplus.core.storage.get_store()`.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

COPY_BUFFER = 1024 * 1024

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Written:
    """What a write stored: its size and SHA-256."""

    size: int
    sha256: str


@dataclass(frozen=True)
class Piece:
    """One stored object to concatenate, and its size in bytes."""

    key: str
    size: int


@dataclass(frozen=True)
class ConcatResult:
    """What `concat` wrote: the total size, and (on S3) how the parts were made."""

    size: int
    copied_parts: int = 0
    buffered_parts: int = 0


class HashingReader:
    """Wraps a file object, hashing and counting what is read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.size += len(data)
        self.digest.update(data)
        return data

    def written(self) -> Written:
        return Written(size=self.size, sha256=self.digest.hexdigest())


class ObjectStore(ABC):
    """Objects under string keys (see `keys`), with whole-object overwrites.

    Every write replaces what was under the key, so a job re-run after a crash converges to
    the same objects instead of duplicating them.
    """

    #: "filesystem" or "s3", for logs and health pages.
    kind: str

    @abstractmethod
    def write(self, key: str, fileobj: IO[bytes], *, content_type: str = "application/octet-stream") -> Written:
        """Store the stream under `key`, replacing any object there."""

    def write_file(self, key: str, path: Path, *, content_type: str = "application/octet-stream") -> Written:
        with open(path, "rb") as fileobj:
            return self.write(key, fileobj, content_type=content_type)

    @abstractmethod
    def read_range(self, key: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive) of the object, in bounded pieces."""

    def read_bytes(self, key: str) -> bytes:
        """A whole (small) object in memory: captions, transcripts."""
        size = self.size(key)
        return b"".join(self.read_range(key, 0, size - 1)) if size else b""

    @abstractmethod
    def size(self, key: str) -> int:
        """The object's size; FileNotFoundError when there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; no error when it is already gone."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with `prefix`; returns how many."""

    @abstractmethod
    def download(self, key: str, dest: Path) -> int:
        """A local copy of the object at `dest` (streamed, never whole in memory); its size."""

    @abstractmethod
    def concat(self, pieces: Sequence[Piece], dest_key: str, progress: Progress | None = None) -> ConcatResult:
        """Write the pieces one after another as `dest_key`, with memory bounded whatever
        their size; replaces `dest_key`."""

    @abstractmethod
    def presigned_url(
        self, key: str, *, content_type: str | None = None, filename: str | None = None, attachment: bool = False
    ) -> str | None:
        """A short-lived URL a browser can GET the object from directly, or None when this
        store has none (the API then serves the bytes itself). With `attachment` the answer
        tells the browser to save it as `filename` instead of showing it."""

    @abstractmethod
    def remove_temporaries(self, prefix: str) -> int:
        """Clean up what runs killed half-way left under `prefix` (temporary files, open
        multipart uploads). Call only when no run on that prefix is active."""

    @abstractmethod
    def ensure_ready(self) -> None:
        """Create the root (folder, or bucket where S3_CREATE_BUCKET allows) if missing."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the store cannot be used right now."""


def content_disposition(filename: str, *, attachment: bool = False) -> str:
    """A Content-Disposition value for `filename`: an ASCII fallback, and the name itself in
    RFC 6266's `filename*` when it is not plain ASCII (browsers prefer that one)."""
    kind = "attachment" if attachment else "inline"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    value = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
