"""Audio in: 16 kHz mono PCM WAV, read in windows. Plain module: no Django, no Dramatiq.

The assembler writes `audio.wav` (16 kHz mono); `to_wav16k` makes the same from any media file
with ffmpeg when it did not, through the shared bounded runner (`recordplus.core.ffmpeg`: time
and memory limits, process-group kill), like every ffmpeg the product starts. Before decoding,
the source's audio is probed and held to the shared media limits (`recordplus.core.media_limits`:
sample rates, MAX_VIDEO_SECONDS, a duration its bytes can hold), and the WAV is capped at the
probed duration (`-t`, `-fs`), so a 1 Hz track "lasting" 1000 hours fails with a reason instead of
filling the disk. `iter_windows` reads the WAV a window at a time so a long
recording never sits in memory (or on the GPU) whole; each cut is moved to the quietest
100 ms near the nominal boundary so words are rarely split between windows.
"""

from __future__ import annotations

import json
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recordplus.core.errors import MediaBeyondLimits
from recordplus.core.ffmpeg import FFmpegError, FFmpegNotFound, FFmpegTimeout, Limits, ffmpeg, ffprobe
from recordplus.core.media_limits import (
    WAV16K_BYTES_PER_SECOND,
    MediaClaims,
    output_seconds,
    refuse_absurd,
    spoken_seconds,
    time_limit,
    wav16k_bytes,
)
from recordplus.transcriber.errors import AudioError, NoAudioStream

SAMPLE_RATE = 16000
_FRAME = SAMPLE_RATE // 10  # 100 ms, the resolution at which a quiet cut point is sought
# What ffmpeg says when the input has no audio stream to map (or no stream at all).
_NO_AUDIO_MESSAGES = ("matches no streams", "does not contain any stream")


@dataclass(frozen=True)
class AudioWindow:
    offset: float  # seconds from the start of the recording
    samples: np.ndarray  # float32 in [-1, 1], SAMPLE_RATE Hz, mono

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def audio_claims(source: Path, *, limits: Limits) -> MediaClaims:
    """What ffprobe says `source`'s first audio stream holds (duration, rate, channels).

    NoAudioStream when there is none; nothing but the size when it cannot be probed.
    """
    size = source.stat().st_size if source.exists() else 0
    try:
        result = ffprobe(
            ["-print_format", "json", "-show_entries", "format=duration:stream=sample_rate,channels,duration",
             "-select_streams", "a:0", "-i", str(source)],
            limits=limits,
            timeout_seconds=time_limit("probe", MediaClaims(size=size, duration=None),
                                       cap=limits.timeout_seconds, max_seconds=0.0),
        )
        data = json.loads(result.stdout or b"{}")
    except (FFmpegTimeout, FFmpegNotFound):
        raise
    except FFmpegError as exc:
        if any(message in exc.stderr_tail for message in _NO_AUDIO_MESSAGES):
            raise NoAudioStream("the recording has no audio track") from exc
        # Nothing is known: the decode, capped at MAX_VIDEO_SECONDS, gives the real reason.
        return MediaClaims(size=size, duration=None, has_audio=True)
    except json.JSONDecodeError:
        return MediaClaims(size=size, duration=None, has_audio=True)
    streams = data.get("streams") or []
    if not streams:
        raise NoAudioStream("the recording has no audio track")
    stream, fmt = streams[0], data.get("format") or {}
    return MediaClaims(
        size=size,
        duration=_positive(fmt.get("duration")) or _positive(stream.get("duration")),
        sample_rate=_int_or_none(stream.get("sample_rate")),
        channels=_int_or_none(stream.get("channels")),
        has_audio=True,
    )


def _positive(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number and number > 0 else None


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def to_wav16k(source: Path, dest: Path, *, limits: Limits | None = None) -> None:
    """Decode any media file's first audio stream to 16 kHz mono 16-bit WAV at `dest`.

    NoAudioStream when the file has no audio track, AudioError when ffmpeg cannot decode it,
    MediaBeyondLimits (permanent) when the track claims what no recording holds or decodes to
    more than it claims. A run past its time limit (FFmpegTimeout: "took longer than N s") or a
    missing ffmpeg (FFmpegNotFound, transient) is left to the job's retry rule. `limits`
    default to `Limits.from_env()`.
    """
    limits = limits or Limits.from_env()
    claims = audio_claims(source, limits=limits)
    refuse_absurd(claims, max_seconds=limits.max_video_seconds)
    seconds = output_seconds(claims.duration, max_seconds=limits.max_video_seconds)
    max_bytes = wav16k_bytes(seconds)
    args = [
        "-i", str(source), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
        "-c:a", "pcm_s16le", "-t", f"{seconds:.3f}", "-fs", str(max_bytes), "-f", "wav", str(dest),
    ]  # fmt: skip
    try:
        ffmpeg(args, limits=limits, timeout_seconds=time_limit(
            "audio", claims, cap=limits.timeout_seconds, max_seconds=limits.max_video_seconds))
    except (FFmpegTimeout, FFmpegNotFound):
        raise
    except FFmpegError as exc:
        if any(message in exc.stderr_tail for message in _NO_AUDIO_MESSAGES):
            raise NoAudioStream("the recording has no audio track") from exc
        last_line = exc.stderr_tail.strip().splitlines()[-1:] or ["unknown error"]
        raise AudioError(f"ffmpeg could not decode the audio: {last_line[0]}") from exc
    # Stopped at -t or -fs: the track runs on past what the recording claims.
    written = dest.stat().st_size if dest.exists() else 0
    if written >= min(max_bytes, int((seconds - 1.0) * WAV16K_BYTES_PER_SECOND)):
        dest.unlink(missing_ok=True)
        raise MediaBeyondLimits(
            f"The audio track decodes to more than {spoken_seconds(seconds)} of sound, more than the "
            f"recording claims ({spoken_seconds(claims.duration or 0)}): its headers do not describe real media"
        )


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
