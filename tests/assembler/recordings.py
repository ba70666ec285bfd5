"""Real MediaRecorder recordings from headless Debian Chromium, made once per test session.

`record_blob.mjs` (next to this file) drives Chromium through playwright-core and records the
way the original extension does: `new MediaRecorder(stream, {mimeType})`, `start()` with no
timeslice, one Blob at stop. The canvas is small (256x192) and busy at 60 fps with 16 Mbit/s,
so each 4 s recording is 5-9 MB made of blocks far smaller than a 60th of the file: cut into 60
pieces, every piece still holds element headers (a piece lying wholly inside one block could
trade places with another such piece, and no container could tell them apart).

`vp8-opus-timeslice` is recorded with `start(1000)` and its Blobs concatenated: that is the
layout Chromium writes while it streams (Segment and Clusters of unknown size, no Duration, no
Cues), the one an uploader that sends while recording produces.

Import `recordings_fixture` (the session fixture `recordings`) and `RECORDING_NAMES` in a test module. The files are
cached under pytest's base temp dir, so every module that imports the fixture shares one set.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.needs import require

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("record_blob.mjs")

# name -> what the driver records (MIME type; +noaudio: no audio track; +timeslice: start(1000)).
# "auto" is the first mp4 type this Chromium's MediaRecorder supports.
RECORDINGS = {
    "vp8-opus": "video/webm;codecs=vp8,opus",
    "vp9-opus": "video/webm;codecs=vp9,opus",
    "vp8": "video/webm;codecs=vp8+noaudio",
    "vp9": "video/webm;codecs=vp9+noaudio",
    "mp4": "auto",
    "vp8-opus-timeslice": "video/webm;codecs=vp8,opus+timeslice",
}
RECORDING_NAMES = tuple(RECORDINGS)
SECONDS = 4
MIN_SIZE = 3 << 20  # at least three 1 MiB pieces, as in the issue


@dataclass(frozen=True)
class Recording:
    """One recording Chromium made, as the extension would hold it at stop."""

    name: str
    path: Path
    mime_type: str  # what was asked for
    recorder_mime_type: str  # what MediaRecorder reported
    audio: bool
    timeslice: bool

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def is_mp4(self) -> bool:
        return self.path.suffix == ".mp4"


def require_browser() -> None:
    """node, Debian's chromium and playwright-core (npm ci): fail under CI, skip elsewhere."""
    require(shutil.which("node") is not None, "node is not installed (apt-get install -y nodejs)")
    require(shutil.which("chromium") is not None, "chromium is not installed (apt-get install -y chromium)")
    require((ROOT / "node_modules" / "playwright-core").is_dir(),
            "node_modules/playwright-core is missing (run npm ci)")


def make_recordings(out_dir: Path) -> tuple[dict[str, Recording], dict]:
    """Record every entry of RECORDINGS into `out_dir`; (recordings, the driver's report)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    specs = [f"{name}={spec}" for name, spec in RECORDINGS.items()]
    done = subprocess.run(
        ["node", str(DRIVER), "--out", str(out_dir), "--seconds", str(SECONDS), *specs],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
    )
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        pytest.fail(f"record_blob.mjs printed no report (exit {done.returncode}):\n{done.stderr[-3000:]}")
    if done.returncode or report.get("error"):
        pytest.fail(f"recording in Chromium failed: {report.get('error')}\n{done.stderr[-3000:]}")
    recordings = {}
    for name, facts in report["recordings"].items():
        recordings[name] = Recording(
            name=name, path=Path(facts["file"]), mime_type=facts["mimeType"],
            recorder_mime_type=facts["recorderMimeType"], audio=facts["audio"],
            timeslice=bool(facts["timeslice"]))
    return recordings, report


@pytest.fixture(scope="session", name="recordings")
def recordings_fixture(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Recording]:
    """The recordings of RECORDINGS, made in Chromium the first time a session asks."""
    cache = tmp_path_factory.getbasetemp() / "mediarecorder-recordings"
    index = cache / "index.json"
    if index.exists():
        stored = json.loads(index.read_text())
        return {name: Recording(**{**facts, "path": Path(facts["path"])}) for name, facts in stored.items()}
    require_browser()
    made, report = make_recordings(cache)
    small = {name: rec.path.stat().st_size for name, rec in made.items() if rec.path.stat().st_size < MIN_SIZE}
    if small:
        pytest.fail(f"Chromium's recordings came out smaller than {MIN_SIZE} bytes: {small}")
    (cache / "driver-report.json").write_text(json.dumps(report, indent=1))
    index.write_text(json.dumps({name: {**rec.__dict__, "path": str(rec.path)} for name, rec in made.items()}))
    return made


def write_pieces(data: bytes, cuts: Iterable[int], directory: Path, prefix: str = "piece") -> list[Path]:
    """Cut `data` at the offsets `cuts` (sorted, inside the data) into files; in byte order."""
    directory.mkdir(parents=True, exist_ok=True)
    bounds = [0, *sorted(set(cuts)), len(data)]
    paths = []
    for index, (start, end) in enumerate(itertools.pairwise(bounds)):
        path = directory / f"{prefix}-{index:03d}"
        path.write_bytes(data[start:end])
        paths.append(path)
    return paths


def slice_every(data: bytes, size: int, directory: Path, prefix: str = "piece") -> list[Path]:
    """Slice like the extension does (`blob.slice(k, k + size)`): equal pieces, a short last one."""
    return write_pieces(data, range(size, len(data), size), directory, prefix)


def concatenation_sha256(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


# A small, independent reading of the recordings' structure, so tests can cut at element
# boundaries and corrupt chosen fields (it trusts its input: it only reads the recordings above).

CLUSTER_ID = 0x1F43B675
_SEGMENT_LEVEL = {0x114D9B74, 0x1549A966, 0x1654AE6B, CLUSTER_ID, 0x1C53BB6B, 0x1254C367, 0x1043A770,
                  0x1941A469}


@dataclass(frozen=True)
class Element:
    """An EBML element: id, offset, header length, payload size (None: unknown)."""

    id: int
    offset: int
    head: int
    size: int | None

    @property
    def body(self) -> int:
        return self.offset + self.head


def read_element(data: bytes, at: int) -> Element:
    first = data[at]
    id_len = 9 - first.bit_length()
    size_first = data[at + id_len]
    size_len = 9 - size_first.bit_length()
    value = int.from_bytes(data[at + id_len:at + id_len + size_len], "big") & ((1 << (7 * size_len)) - 1)
    unknown = value == (1 << (7 * size_len)) - 1
    return Element(int.from_bytes(data[at:at + id_len], "big"), at, id_len + size_len, None if unknown else value)


def segment(data: bytes) -> Element:
    header = read_element(data, 0)
    return read_element(data, header.body + header.size)


def segment_children(data: bytes) -> list[Element]:
    """The Segment's children; a Cluster of unknown size ends where the next Segment-level element starts."""
    seg = segment(data)
    end = len(data) if seg.size is None else seg.body + seg.size
    at, out = seg.body, []
    while at < end:
        element = read_element(data, at)
        if element.size is None:
            inner = element.body
            while inner < end:
                child = read_element(data, inner)
                if child.id in _SEGMENT_LEVEL:
                    break
                inner = child.body + child.size
            element = Element(element.id, element.offset, element.head, inner - element.body)
            out.append(element)
            at = inner
            continue
        out.append(element)
        at = element.body + element.size
    return out


def cluster_children(data: bytes, cluster: Element) -> list[Element]:
    at, out = cluster.body, []
    while at < cluster.body + cluster.size:
        child = read_element(data, at)
        out.append(child)
        at = child.body + child.size
    return out


def mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level boxes: (type, offset, size)."""
    at, out = 0, []
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        out.append((data[at + 4:at + 8], at, size))
        at += size
    return out
