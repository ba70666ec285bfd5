"""Live audio: decode new audio blocks to 16 kHz mono PCM, and cut the PCM into windows at
pauses. Plain module: no Django, no Dramatiq.

Continuity across decode steps: an Opus decoder that starts cold drops its
pre-skip and needs a few packets to settle, so each step decodes a few hundred milliseconds of
already-decoded *priming* blocks before the new ones and keeps only the end of the output — as
many samples as the new blocks last by their timestamps. The samples a step adds are placed
at their block times (`round(seconds * 16000)`), so audio time is video time, whatever the
decoder dropped at its start. The last block received is held back until the next one (or the
end of the recording) says where it ends.

Windows: `cut_windows` closes a window at the middle of the first pause (a run of quiet 20 ms
frames) once the window is at least `min_seconds` long, or at the quietest frame near
`max_seconds` when nobody paused; the end of the recording closes the last one.
"""

from __future__ import annotations

import functools
import io
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from recordplus.assembler.live_webm import AudioBlock, LiveStreamError, WebmCursor, audio_webm
from recordplus.core.ffmpeg import Limits, ffmpeg_stdout

SAMPLE_RATE = 16000
FRAME = SAMPLE_RATE // 50  # 20 ms: the resolution of pause finding
PRIMING_SECONDS = 0.4
# A decode step is at most this much new audio (a burst at finalize is split into steps).
MAX_STEP_SECONDS = 120.0
# Opus frame sizes in 48 kHz samples by TOC configuration (RFC 6716, section 3.1).
_OPUS_FRAME = [480, 960, 1920, 2880] * 3 + [480, 960] * 2 + [120, 240, 480, 960] * 4


def opus_packet_samples(packet: bytes) -> int:
    """48 kHz samples one Opus packet decodes to (0 when it cannot be told)."""
    if not packet:
        return 0
    toc = packet[0]
    frame = _OPUS_FRAME[toc >> 3]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        count = packet[1] & 0x3F if len(packet) > 1 else 0
    return frame * count


def to_sample(cursor: WebmCursor, ticks: int) -> int:
    """The 16 kHz sample index (of the recording's timeline) where a block's sound starts."""
    return round((cursor.seconds(ticks) - cursor.codec_delay_ns / 1e9) * SAMPLE_RATE)


def block_end_ticks(cursor: WebmCursor, block: AudioBlock) -> int:
    """Where the last block of a recording ends (its own duration, for Opus)."""
    samples = opus_packet_samples(block.data) if cursor.codec == "A_OPUS" else 0
    samples = samples or 960  # 20 ms, MediaRecorder's frame
    return block.ticks + round(samples / 48000 * 1e9 / cursor.timecode_scale)


def decode_blocks(
    cursor: WebmCursor,
    priming: list[AudioBlock],
    blocks: list[AudioBlock],
    end_ticks: int,
    workdir: Path,
    *,
    limits: Limits | None = None,
    in_process: bool | None = None,
) -> np.ndarray:
    """int16 PCM of `blocks` (from the first one's time to `end_ticks`), decoded after
    `priming` (earlier blocks, whose output is dropped).

    The blocks are written as a small audio-only WebM and decoded by libavcodec: in this
    process through PyAV when it is installed (a decode step then costs no process start,
    which is most of a one-second step's CPU), else by an ffmpeg child. Both read the same
    bytes with the same demuxer, decoder and resampler, so they give the same samples."""
    start, end = to_sample(cursor, blocks[0].ticks), to_sample(cursor, end_ticks)
    expected = max(end - start, 0)
    if expected == 0:
        return np.zeros(0, dtype=np.int16)
    data = audio_webm(cursor, [*priming, *blocks])
    seconds = (expected / SAMPLE_RATE) + PRIMING_SECONDS + 1
    use_pyav = decodes_in_process() if in_process is None else in_process
    pcm = _decode_with_pyav(data, max_samples=int(seconds * SAMPLE_RATE)) if use_pyav else None
    if pcm is None:
        path = workdir / "live-step.webm"
        path.write_bytes(data)
        raw = ffmpeg_stdout(
            ["-i", str(path), "-map", "0:a:0", "-ac", "1", "-ar", str(SAMPLE_RATE), "-c:a", "pcm_s16le",
             "-t", f"{seconds:.3f}", "-f", "s16le", "pipe:1"],
            limits=limits, timeout_seconds=30 + seconds,
        )  # fmt: skip
        pcm = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2")
    if len(pcm) >= expected:
        return pcm[len(pcm) - expected :].copy()
    # The decoder gave less (a cold start's pre-skip): the missing part is at the front.
    return np.concatenate([np.zeros(expected - len(pcm), dtype=np.int16), pcm])


@functools.cache
def decodes_in_process() -> bool:
    """Whether PyAV (libavcodec in this process) is installed: the transcriber's
    faster-whisper brings it, the assembler depends on it."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _decode_with_pyav(data: bytes, *, max_samples: int) -> np.ndarray | None:
    """16 kHz mono int16 PCM of the audio-only WebM `data`, at most `max_samples` of it (the
    same cap as the ffmpeg child's `-t`); None when the audio is not at 48 kHz (Vorbis at
    another rate: the ffmpeg child resamples it). A packet the decoder refuses is skipped, as
    the ffmpeg command line does; a stream it cannot open at all stops the live path.

    Opus always decodes at 48 kHz, so 16 kHz is every third sample after a low-pass filter
    (`_downsample`). PyAV's own resampler is not used: its output differs from the ffmpeg
    command line's, which the whole-file path uses, by far more than this filter's does."""
    import av

    parts: list[np.ndarray] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), format="matroska") as container:
            stream = container.streams.audio[0]
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    continue
                for frame in frames:
                    if frame.sample_rate != DECODED_RATE or not frame.format.name.startswith("flt"):
                        return None  # not 48 kHz float (libavcodec's Opus always is): ffmpeg resamples
                    samples = frame.to_ndarray().astype(np.float32, copy=False)
                    if not frame.format.is_planar:  # interleaved: (1, n * channels)
                        samples = samples.reshape(-1, len(frame.layout.channels)).T
                    parts.append(samples.mean(axis=0) if samples.shape[0] > 1 else samples[0])
                    total += frame.samples
                if total >= max_samples * _DECIMATE:
                    break
    except av.error.FFmpegError as exc:
        raise LiveStreamError(f"the audio could not be decoded: {exc}") from exc
    if not parts:
        return np.zeros(0, dtype=np.int16)
    return _downsample(np.concatenate(parts), 32768.0)[:max_samples]


DECODED_RATE = 48000
_DECIMATE = DECODED_RATE // SAMPLE_RATE


@functools.cache
def _lowpass() -> np.ndarray:
    """A linear-phase low-pass FIR for 48 → 16 kHz: Kaiser-windowed sinc, cut-off 7.6 kHz,
    157 taps (a delay of 78 input samples, 26 output samples)."""
    taps = 157
    cutoff = 7600 / DECODED_RATE  # cycles per input sample
    n = np.arange(taps) - (taps - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, 8.6)
    return (kernel / kernel.sum()).astype(np.float32)


def _every_third(x: np.ndarray, kernel: np.ndarray, first: int, count: int) -> np.ndarray:
    """`np.convolve(x, kernel)[first::3][:count]`, computing only those outputs: output
    first + 3i takes kernel taps 3j + q times x[3(i - j) + first - q], so it is the sum over
    q of the convolution of kernel[q::3] with x's phase (first - q) mod 3."""
    out = np.zeros(count, dtype=np.float32)
    for q in range(_DECIMATE):
        phase, offset = (first - q) % _DECIMATE, (first - q) // _DECIMATE
        if len(x) <= phase:
            continue
        part = np.convolve(x[phase::_DECIMATE], kernel[q::_DECIMATE])[offset : offset + count]
        out[: len(part)] += part
    return out


def _downsample(samples: np.ndarray, scale: float) -> np.ndarray:
    """48 kHz float samples (full scale `scale`) → 16 kHz int16. The samples end where the
    step's last block ends, a whole millisecond, so counting back from the end in threes lands
    on the recording's 16 kHz grid — the one the ffmpeg command line keeps — whatever the
    decoder dropped at the start (libavcodec versions drop different amounts of pre-skip)."""
    kernel = _lowpass()
    delay = (len(kernel) - 1) // 2
    first = delay + len(samples) % _DECIMATE
    count = len(range(first, delay + len(samples), _DECIMATE))
    filtered = _every_third(samples.astype(np.float32, copy=False), kernel, first, count)
    return np.clip(np.rint(filtered * scale), -32768, 32767).astype(np.int16)


def priming_tail(blocks: list[AudioBlock], cursor: WebmCursor) -> list[AudioBlock]:
    """The last PRIMING_SECONDS of `blocks`, to prime the next decode step."""
    if not blocks:
        return []
    last = blocks[-1].ticks
    horizon = PRIMING_SECONDS * 1e9 / cursor.timecode_scale
    return [b for b in blocks if last - b.ticks <= horizon]


@dataclass
class Step:
    """What one decode step adds: PCM from sample `decoded` on, and the state for the next."""

    pcm: np.ndarray
    decoded: int  # the timeline's end after this step (16 kHz samples)
    held: AudioBlock | None
    priming: list[AudioBlock]


def decode_step(
    cursor: WebmCursor,
    *,
    held: AudioBlock | None,
    priming: list[AudioBlock],
    blocks: list[AudioBlock],
    decoded: int,
    ended: bool,
    workdir: Path,
    limits: Limits | None = None,
) -> Step:
    """Decode the blocks a walk found (after the one held back last time) onto the timeline,
    which ends at sample `decoded`. The last block is held back unless the recording `ended`.
    A hole in the block times becomes silence, an overlap is dropped: audio time = video time."""
    pending = ([held] if held else []) + blocks
    if ended:
        new, keep = pending, None
        end_ticks = block_end_ticks(cursor, pending[-1]) if pending else 0
    else:
        new, keep = pending[:-1], (pending[-1] if pending else None)
        end_ticks = pending[-1].ticks if pending else 0
    parts = []
    limit = int(MAX_STEP_SECONDS * 1e9 / cursor.timecode_scale)
    while new:  # a long burst (the tail at finalize) is decoded in bounded batches
        batch = [b for b in new if b.ticks - new[0].ticks < limit]
        rest = new[len(batch) :]
        out = decode_blocks(cursor, priming, batch, rest[0].ticks if rest else end_ticks, workdir, limits=limits)
        start = to_sample(cursor, batch[0].ticks)
        if start < decoded:
            out = out[decoded - start :]
        elif start > decoded:
            out = np.concatenate([np.zeros(start - decoded, dtype=np.int16), out])
        parts.append(out)
        decoded += len(out)
        priming = priming_tail(priming + batch, cursor)
        new = rest
    pcm = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
    return Step(pcm=pcm, decoded=decoded, held=keep, priming=priming)


# --- windows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowRules:
    min_seconds: float = 16.0
    max_seconds: float = 30.0
    pause_seconds: float = 0.3


def frame_levels(pcm: np.ndarray) -> np.ndarray:
    """dBFS of each whole 20 ms frame of int16 `pcm`."""
    count = len(pcm) // FRAME
    if count == 0:
        return np.zeros(0)
    frames = pcm[: count * FRAME].astype(np.float64).reshape(count, FRAME) / 32768.0
    power = np.mean(np.square(frames), axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-12))


def quiet_threshold(levels: np.ndarray) -> float:
    """The level under which a frame counts as a pause: near the noise floor, well under speech."""
    if len(levels) == 0:
        return -50.0
    floor, loud = np.percentile(levels, 10), np.percentile(levels, 90)
    return float(max(-50.0, min(floor + 6.0, loud - 20.0)))


def cut_windows(pcm: np.ndarray, rules: WindowRules, *, final: bool) -> list[int]:
    """Where to cut the open audio `pcm` (int16, from the window's start): sample offsets of
    each window's end, in order. With `final`, the remainder is a window too.

    A cut depends only on the audio up to it (and the pause it sits in), never on how much
    arrived after: the quiet level comes from the window's first `min_seconds`, so the same
    recording is cut the same way whatever the decode steps were."""
    cuts: list[int] = []
    levels = frame_levels(pcm)
    min_frames = int(rules.min_seconds * SAMPLE_RATE) // FRAME
    max_frames = max(int(rules.max_seconds * SAMPLE_RATE) // FRAME, min_frames + 1)
    pause_frames = max(round(rules.pause_seconds * SAMPLE_RATE / FRAME), 1)
    start = 0  # in frames
    while len(levels) - start >= min_frames:
        quiet = levels < quiet_threshold(levels[start : start + min_frames])
        cut = _pause_cut(quiet, start + min_frames, start + max_frames, pause_frames)
        # Forced only once the pause search saw every frame it may look at (a pause just
        # past the maximum must not be found in one decode step and missed in another).
        if cut is None and len(levels) - start >= max_frames + pause_frames:
            search = max_frames // 5
            lo = start + max_frames - search
            cut = lo + int(np.argmin(levels[lo : start + max_frames]))
        if cut is None:
            break
        cuts.append(cut * FRAME)
        start = cut
    if final and len(pcm) > (cuts[-1] if cuts else 0):
        cuts.append(len(pcm))
    return cuts


def _pause_cut(quiet: np.ndarray, lo: int, hi: int, pause_frames: int) -> int | None:
    """The frame in the middle of the first run of `pause_frames` quiet frames that reaches
    into [lo, hi), or None."""
    run = 0
    for i in range(max(lo - pause_frames, 0), min(hi + pause_frames, len(quiet))):
        run = run + 1 if quiet[i] else 0
        if run >= pause_frames:
            middle = i - pause_frames // 2
            if middle >= lo:
                return min(middle, hi)
    return None


def wav_bytes(pcm: np.ndarray) -> bytes:
    """16 kHz mono 16-bit WAV of int16 `pcm`."""
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.astype("<i2").tobytes())
    return out.getvalue()


def pcm_of_wav(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").copy()
