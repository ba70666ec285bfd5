"""The engines: what one must do, which runs on which device, and the one loaded instance per
process. Plain module: no Django, no Dramatiq (an engine's own module is imported only when
that engine is built: `faster_whisper`, or `whisperx` with torch).

TRANSCRIBE_ENGINE=auto picks WhisperX only where it pays off: installed *and* a CUDA device
present (its batched pipeline and wav2vec2 alignment are GPU work). Everywhere else — laptops,
CPU-only nodes — the light faster-whisper engine runs. The transcriber image sets
TRANSCRIBE_ENGINE=whisperx explicitly.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import numpy as np

from recordplus.transcriber import model_cache
from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.errors import ConfigurationError, EngineUnavailable
from recordplus.transcriber.model_location import resolve_whisper_model
from recordplus.transcripts.records import Segment

FASTER_WHISPER = "faster-whisper"
WHISPERX = "whisperx"


# Called with how many seconds of a window have been transcribed so far.
Progress = Callable[[float], None]


class Engine(Protocol):
    """What the runner needs from an engine."""

    name: str
    model_label: str

    def transcribe(
        self,
        samples: np.ndarray,
        language: str | None = None,
        on_progress: Progress | None = None,
        *,
        draft: bool = False,
    ) -> tuple[str, list[Segment]]:
        """(language, segments) of one window; `on_progress(seconds)` tells how far into the
        window decoding has got, as it goes. `draft=True` is the cheap pass of a live
        provisional caption (greedy, no word alignment: word times only spread over each
        segment); every other caller leaves it False and gets the configured decoding."""
        ...


# One engine call at a time per process. Two live windows (or a window and a whole-file job)
# transcribed at once on two worker threads froze a cluster worker for good: both threads
# stuck in faster-whisper's feature extractor (a numpy matmul into OpenBLAS, whose thread pool
# is not safe to enter from two threads: numpy/numpy#17752). On CPU a second concurrent run gains
# nothing anyway (the engine already uses WHISPER_CPU_THREADS), and a GPU engine batches within a
# call. Acquired in short waits so Dramatiq's time limit (an async exception) still reaches a
# thread waiting its turn.
_ENGINE_LOCK = threading.Lock()
_TURN_POLL_SECONDS = 0.5


@contextmanager
def engine_turn() -> Iterator[None]:
    """Hold the process's engine for one transcribe call."""
    while not _ENGINE_LOCK.acquire(timeout=_TURN_POLL_SECONDS):
        pass
    try:
        yield
    finally:
        _ENGINE_LOCK.release()


@contextmanager
def engine_turn_if_free() -> Iterator[bool]:
    """Hold the process's engine only if it is free (yields True), else yield False at once:
    best-effort work (a live provisional draft) never holds a worker thread waiting behind
    real transcriptions."""
    acquired = _ENGINE_LOCK.acquire(blocking=False)
    try:
        yield acquired
    finally:
        if acquired:
            _ENGINE_LOCK.release()


def whisperx_installed() -> bool:
    return importlib.util.find_spec("whisperx") is not None


def cuda_devices() -> int:
    """CUDA devices CTranslate2 can use (no torch import needed)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # a broken CUDA install means: no GPU for us
        return 0


def resolve_device(setting: str) -> str:
    if setting == "auto":
        return "cuda" if cuda_devices() > 0 else "cpu"
    if setting == "cuda" and cuda_devices() == 0:
        raise ConfigurationError("WHISPER_DEVICE=cuda but no CUDA device is visible")
    return setting


def resolve_compute_type(setting: str, device: str) -> str:
    """`auto`: float16 on a GPU, int8 on a CPU (CTranslate2's fastest accurate choices there)."""
    if setting in ("auto", "default"):
        return "float16" if device == "cuda" else "int8"
    return setting


def choose_engine(setting: str, *, whisperx_available: bool, device: str) -> str:
    """The engine name for TRANSCRIBE_ENGINE=`setting` on this machine."""
    if setting == WHISPERX:
        if not whisperx_available:
            raise EngineUnavailable(
                "TRANSCRIBE_ENGINE=whisperx but WhisperX is not installed (uv sync --extra whisperx)"
            )
        return WHISPERX
    if setting == FASTER_WHISPER:
        return FASTER_WHISPER
    if setting != "auto":
        raise ConfigurationError(f"unknown TRANSCRIBE_ENGINE {setting!r}")
    return WHISPERX if whisperx_available and device == "cuda" else FASTER_WHISPER


def load_engine(settings: TranscribeSettings) -> Engine:
    """The engine these settings describe, loaded once per process and then reused."""
    device = resolve_device(settings.device)
    compute_type = resolve_compute_type(settings.compute_type, device)
    name = choose_engine(settings.engine, whisperx_available=whisperx_installed(), device=device)
    ref = resolve_whisper_model(settings.model, settings.model_dir)
    key = (name, ref.source, device, compute_type, settings)

    def build() -> Engine:
        if name == WHISPERX:
            from recordplus.transcriber.engines.whisperx import WhisperXEngine

            return WhisperXEngine(settings, ref, device, compute_type)
        from recordplus.transcriber.engines.faster_whisper import FasterWhisperEngine

        return FasterWhisperEngine(settings, ref, device, compute_type)

    return model_cache.get_or_load(key, build)
