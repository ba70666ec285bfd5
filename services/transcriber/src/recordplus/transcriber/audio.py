"""Audio in: 16 kHz mono PCM WAV, read in windows. Plain module: no Django, no Dramatiq.

The assembler writes `audio.wav` (16 kHz mono); `to_wav16k` makes the same from any media file
with ffmpeg when it did not. `iter_windows` reads the WAV a window at a time so a long
recording never sits in memory (or on the GPU) whole; each cut is moved to the quietest
100 ms near the nominal boundary so words are rarely split between windows.
"""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recordplus.core.binaries import ffmpeg_binary
from recordplus.transcriber.errors import AudioError

SAMPLE_RATE = 16000
_FRAME = SAMPLE_RATE // 10  # 100 ms, the resolution at which a quiet cut point is sought


class NoAudioStream(AudioError):
    """The media file has no audio track at all (a silent screen recording)."""

    reason = "no_audio"


@dataclass(frozen=True)
class AudioWindow:
    offset: float  # seconds from the start of the recording
    samples: np.ndarray  # float32 in [-1, 1], SAMPLE_RATE Hz, mono

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def to_wav16k(source: Path, dest: Path, *, timeout: float = 3600) -> None:
    """Decode any media file's first audio stream to 16 kHz mono 16-bit WAV at `dest`."""
    cmd = [
        ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(source), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
        "-c:a", "pcm_s16le", "-f", "wav", str(dest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise AudioError("ffmpeg is not installed") from exc
    if proc.returncode != 0:
        message = proc.stderr.strip().splitlines()[-1:] or ["unknown error"]
        if "matches no streams" in proc.stderr or "does not contain any stream" in proc.stderr:
            raise NoAudioStream("the recording has no audio track")
        raise AudioError(f"ffmpeg could not decode the audio: {message[0]}")


def wav_duration(path: Path) -> float:
    """Seconds of audio in a WAV file (from its header; nothing is decoded)."""
    with _open_wav(path) as wav:
        return wav.getnframes() / float(wav.getframerate())


def is_wav16k_mono(path: Path) -> bool:
    """True when `path` is already what the engines want (16 kHz, mono, 16-bit PCM)."""
    try:
        with wave.open(str(path), "rb") as wav:
            return wav.getframerate() == SAMPLE_RATE and wav.getnchannels() == 1 and wav.getsampwidth() == 2
    except (wave.Error, EOFError, OSError):
        return False


def _open_wav(path: Path) -> wave.Wave_read:
    try:
        wav = wave.open(str(path), "rb")
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a PCM WAV file: {exc}") from exc
    if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1 or wav.getsampwidth() != 2:
        wav.close()
        raise AudioError("audio must be 16 kHz mono 16-bit PCM (convert with to_wav16k)")
    return wav


def _quietest_cut(samples: np.ndarray, lo: int, hi: int) -> int:
    """Index in [lo, hi) of the start of the lowest-energy 100 ms frame (lo when too short)."""
    lo = max(0, lo)
    hi = min(len(samples), hi)
    count = (hi - lo) // _FRAME
    if count <= 1:
        return lo if lo > 0 else hi
    frames = samples[lo : lo + count * _FRAME].reshape(count, _FRAME)
    energy = np.square(frames, dtype=np.float64).mean(axis=1)
    # Cut in the middle of the quietest frame.
    return lo + int(np.argmin(energy)) * _FRAME + _FRAME // 2


def iter_windows(path: Path, window_seconds: float = 600.0, search_seconds: float = 10.0) -> Iterator[AudioWindow]:
    """Yield consecutive windows covering the whole WAV, each about `window_seconds` long.

    Memory holds at most one window plus the search margin. The cut between two windows is
    the quietest 100 ms within `search_seconds` before the nominal boundary.
    """
    window = int(window_seconds * SAMPLE_RATE)
    search = min(int(search_seconds * SAMPLE_RATE), window // 2)
    with _open_wav(path) as wav:
        carry = np.zeros(0, dtype=np.float32)
        offset_samples = 0
        exhausted = False
        while not exhausted or len(carry):
            need = window + search - len(carry)
            if need > 0 and not exhausted:
                raw = wav.readframes(need)
                fresh = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
                if len(fresh) < need:
                    exhausted = True
                buffer = np.concatenate([carry, fresh]) if len(carry) else fresh
            else:
                buffer = carry
            if exhausted and len(buffer) <= window + search:
                if len(buffer):
                    yield AudioWindow(offset_samples / SAMPLE_RATE, buffer)
                return
            cut = _quietest_cut(buffer, window - search, window)
            yield AudioWindow(offset_samples / SAMPLE_RATE, buffer[:cut])
            offset_samples += cut
            carry = buffer[cut:]
