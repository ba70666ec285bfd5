"""Transcription speed: audio seconds per wall second for each engine on the same audio.

Baseline: bare faster-whisper (`WhisperModel.transcribe` with word timestamps and VAD, the
same model, compute type and threads). Against it: our light engine (windowing, word
placement, result building), our WhisperX engine (batched ASR + wav2vec2 alignment with the
tiny test alignment model), and bare WhisperX (`transcribe` + `align`) to show what our
wrapper adds on top of WhisperX itself. Models are loaded before timing; each figure is the
median of --runs runs. Not collected by pytest.

    uv run python tests/bench/bench_transcribe.py [--seconds 120] [--runs 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the helpers live in tests/
    sys.path.insert(0, str(ROOT))

from recordplus.transcriber.audio import wav_duration  # noqa: E402
from recordplus.transcriber.config import TranscribeSettings  # noqa: E402
from recordplus.transcriber.engines import load_engine, whisperx_installed  # noqa: E402
from recordplus.transcriber.model_location import resolve_whisper_model  # noqa: E402
from recordplus.transcriber.runner import transcribe_wav  # noqa: E402
from tests.transcriber.fixtures import (  # noqa: E402
    BUNDLED_NLTK_DATA,
    SENTENCES,
    build_tiny_align_model,
    concat_wavs,
    speak,
)


def make_audio(workdir: Path, seconds: float) -> Path:
    parts = [speak(text, workdir / f"s{i}.wav") for i, text in enumerate(SENTENCES)]
    one = concat_wavs(parts, workdir / "one.wav")
    repeats = max(1, round(seconds / wav_duration(one)))
    return concat_wavs([one] * repeats, workdir / "speech.wav", gap=1.0)


def race(contestants: list[tuple[str, Callable[[], object]]], runs: int) -> list[tuple[str, float]]:
    """Median wall seconds per contestant. Runs are interleaved (one of each per round) so that
    load from other processes on a shared machine hits every contestant alike."""
    for _, fn in contestants:
        fn()  # warm-up: caches, lazy imports, first-call allocations
    walls: dict[str, list[float]] = {name: [] for name, _ in contestants}
    for _ in range(runs):
        for name, fn in contestants:
            started = time.perf_counter()
            fn()
            walls[name].append(time.perf_counter() - started)
    return [(name, statistics.median(walls[name])) for name, _ in contestants]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="approximate length of the test audio")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")

    with tempfile.TemporaryDirectory(prefix="bench-transcribe-") as tmp:
        workdir = Path(tmp)
        wav = make_audio(workdir, args.seconds)
        audio = wav_duration(wav)
        ref = resolve_whisper_model("")
        contestants: list[tuple[str, Callable[[], object]]] = []

        from faster_whisper import WhisperModel

        bare = WhisperModel(ref.source, device="cpu", compute_type="int8", cpu_threads=args.threads)

        def bare_faster_whisper() -> None:
            pieces, _ = bare.transcribe(
                str(wav), language="en", beam_size=5, word_timestamps=True, vad_filter=True,
                condition_on_previous_text=False,
            )  # fmt: skip
            list(pieces)

        contestants.append(("bare faster-whisper (baseline)", bare_faster_whisper))

        light = TranscribeSettings(engine="faster-whisper", threads=args.threads)
        light_engine = load_engine(light)
        contestants.append(("recordplus faster-whisper engine", lambda: transcribe_wav(wav, light_engine, light)))

        if whisperx_installed():
            import whisperx

            align_dir = build_tiny_align_model(workdir / "align")
            heavy = TranscribeSettings(
                engine="whisperx", threads=args.threads, batch_size=8, align_model=str(align_dir),
                nltk_data=str(BUNDLED_NLTK_DATA),
            )  # fmt: skip
            heavy_engine = load_engine(heavy)
            contestants.append(("recordplus whisperx engine", lambda: transcribe_wav(wav, heavy_engine, heavy)))

            pipeline = heavy_engine.pipeline  # the same loaded models, driven directly
            align_model, metadata = whisperx.load_align_model("en", "cpu", model_name=str(align_dir), model_cache_only=True)

            def bare_whisperx() -> None:
                samples = whisperx.load_audio(str(wav))
                result = pipeline.transcribe(samples, batch_size=8, language="en")
                whisperx.align(result["segments"], align_model, metadata, samples, "cpu")

            contestants.append(("bare whisperx (transcribe + align)", bare_whisperx))
        else:
            print("WhisperX not installed (uv sync --extra whisperx): its rows are left out", file=sys.stderr)
        rows = race(contestants, args.runs)

    baseline = rows[0][1]
    print(f"audio: {audio:.1f} s of espeak-ng speech; model tiny.en int8 on CPU, {args.threads} threads; "
          f"median of {args.runs} interleaved runs after a warm-up")  # fmt: skip
    print()
    print("| engine | wall s | audio s / wall s | vs bare faster-whisper |")
    print("| --- | ---: | ---: | ---: |")
    for name, wall in rows:
        print(f"| {name} | {wall:.2f} | {audio / wall:.1f} | {baseline / wall:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
