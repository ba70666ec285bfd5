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
