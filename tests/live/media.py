"""Media the live-transcription tests share: espeak-ng speech with pauses, made into
MediaRecorder-like WebM (live layout: Segment and Clusters of unknown size, no Cues) or a
plain ffmpeg WebM (known sizes, Cues), cached per session by the callers' tmp folders."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.transcriber.fixtures import concat_wavs, require_tools, speak

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please send the quarterly report to the finance team before Friday.",
    "Our new recording tool uploads every chunk while you are still talking.",
    "We will meet again next week to review the budget and the hiring plan.",
    "Remember to water the plants and to lock the office door when you leave.",
    "The library opens at nine in the morning and closes at six in the evening.",
)


def seconds_of(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return float(json.loads(out)["format"]["duration"])


def speech_wav(folder: Path, *, repeat: int = 1, gap: float = 0.9) -> Path:
    """SENTENCES (`repeat` times over) with `gap` seconds of silence between them."""
    require_tools("espeak-ng", "ffmpeg")
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, sentence in enumerate(SENTENCES):
        part = folder / f"sentence-{i}.wav"
        if not part.exists():
            speak(sentence, part, lead_silence=0.4 if i == 0 else 0.0)
        parts.append(part)
    wav = folder / f"speech-x{repeat}.wav"
    if not wav.exists():
        concat_wavs(parts * repeat, wav, gap=gap)
    return wav


def webm_of(wav: Path, path: Path, *, live: bool = True, cluster_ms: int = 1000) -> Path:
    """A VP8/Opus WebM with `wav` as its sound; `live` writes it as MediaRecorder streams it."""
    if path.exists():
        return path
    layout = ["-live", "1", "-cluster_time_limit", str(cluster_ms), "-cluster_size_limit", str(64 << 20)] if live else []
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
         "-i", str(wav), "-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libvpx", "-deadline", "realtime",
         "-cpu-used", "8", "-b:v", "200k", "-g", "15", "-c:a", "libopus", "-b:a", "48k", *layout, "-f", "webm", str(path)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return path


def audio_packets(path: Path) -> int:
    """How many audio packets ffprobe counts in a file."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    return int(json.loads(out)["streams"][0]["nb_read_packets"])


def whole_pcm(path: Path) -> bytes:
    """The whole file's audio as the whole-file path decodes it: 16 kHz mono s16le."""
    return subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", "16000",
         "-f", "s16le", "pipe:1"],
        check=True, capture_output=True, timeout=300,
    ).stdout  # fmt: skip


# --- fragmented MP4 -------------------------------------------------------------------------

DATA = Path(__file__).with_name("data")
# Real recordings of Debian Chromium 156's MediaRecorder in MP4 mode (about 7.5 s of espeak-ng
# speech on a 160x120 canvas, start(1000), videoKeyFrameIntervalDuration 1000, the Blobs
# concatenated): ftyp + moov, then one moof + mdat per second; audio is track 1, video track 2.
CHROMIUM_MP4 = {"avc1-opus": DATA / "chromium-avc1-opus.mp4", "vp9-opus": DATA / "chromium-vp9-opus.mp4"}


def fmp4_of(wav: Path, path: Path, *, audio: str = "aac") -> Path:
    """A fragmented H.264 MP4 with `wav` as its AAC (or Opus) sound, one fragment per second,
    laid out as MediaRecorder streams it (empty moov, then moof + mdat pairs)."""
    if path.exists():
        return path
    codec = ["-c:a", "aac", "-b:a", "64k"] if audio == "aac" else ["-c:a", "libopus", "-b:a", "48k"]
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15",
         "-i", str(wav), "-map", "0:v", "-map", "1:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast",
         "-g", "15", *codec, "-ar", "48000", "-movflags", "frag_keyframe+empty_moov+default_base_moof",
         "-f", "mp4", str(path)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return path


def mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of each top-level box of an MP4."""
    out, at = [], 0
    while at + 8 <= len(data):
        size, kind = int.from_bytes(data[at : at + 4], "big"), data[at + 4 : at + 8]
        if size == 1:
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        out.append((kind, at, size))
        at += size
    return out
