"""The transcriber's settings, read from the environment. Plain module: no Django, no Dramatiq.

The API's settings module does not know these: only transcriber processes read them, through
the same typed helpers (`recordplus.core.env`), so a bad value fails loudly at first use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from pathlib import Path

from recordplus.core.env import envbool, envchoice, envfloat, envint, envstr

ENGINES = ("auto", "faster-whisper", "whisperx")
DEVICES = ("auto", "cpu", "cuda")
COMPUTE_TYPES = ("auto", "default", "int8", "int8_float16", "int8_float32", "int16", "float16", "bfloat16", "float32")
VAD_METHODS = ("pyannote", "silero")

# The project's own minimal punkt_tab (see nltk_data/README.md): used when NLTK_DATA is unset.
BUNDLED_NLTK_DATA = Path(__file__).parent / "nltk_data"


@dataclass(frozen=True)
class TranscribeSettings:
    """Everything that shapes a transcription; one instance per process (see `from_env`)."""

    engine: str = "auto"
    model: str = ""
    model_dir: str = ""
    device: str = "auto"
    compute_type: str = "auto"
    batch_size: int = 8
    beam_size: int = 5
    language: str | None = None
    threads: int = 0
    vad_filter: bool = True
    vad_method: str = "pyannote"
    align_model: str = ""
    align_model_dir: str = ""
    interpolate_method: str = "nearest"
    diarize: bool = False
    diarize_model: str = ""
    hf_token: str = ""
    min_speakers: int = 0
    max_speakers: int = 0
    window_seconds: float = 600.0
    time_limit_seconds: int = 3600
    max_attempts: int = 3
    nltk_data: str = ""

    @classmethod
    def from_env(cls) -> TranscribeSettings:
        """Read every TRANSCRIBE_*/WHISPER_*/ALIGN_*/DIARIZE* variable (README lists them)."""
        language = envstr("WHISPER_LANGUAGE", "").strip().lower()
        return cls(
            engine=envchoice("TRANSCRIBE_ENGINE", "auto", ENGINES),
            model=envstr("WHISPER_MODEL", "").strip(),
            model_dir=envstr("WHISPER_MODEL_DIR", "").strip(),
            device=envchoice("WHISPER_DEVICE", "auto", DEVICES),
            compute_type=envchoice("WHISPER_COMPUTE_TYPE", "auto", COMPUTE_TYPES),
            batch_size=envint("WHISPER_BATCH_SIZE", 8, minimum=1),
            beam_size=envint("WHISPER_BEAM_SIZE", 5, minimum=1),
            language=None if language in ("", "auto") else language,
            threads=envint("WHISPER_THREADS", 0, minimum=0),
            vad_filter=envbool("WHISPER_VAD_FILTER", True),
            vad_method=envchoice("VAD_METHOD", "pyannote", VAD_METHODS),
            align_model=envstr("ALIGN_MODEL", "").strip(),
            align_model_dir=envstr("ALIGN_MODEL_DIR", "").strip(),
            interpolate_method=envchoice("ALIGN_INTERPOLATE_METHOD", "nearest", ("nearest", "linear", "ignore")),
            diarize=envbool("DIARIZE", False),
            diarize_model=envstr("DIARIZE_MODEL", "").strip(),
            hf_token=envstr("HF_TOKEN", "").strip(),
            min_speakers=envint("DIARIZE_MIN_SPEAKERS", 0, minimum=0),
            max_speakers=envint("DIARIZE_MAX_SPEAKERS", 0, minimum=0),
            window_seconds=envfloat("TRANSCRIBE_WINDOW_SECONDS", 600.0, minimum=30.0),
            time_limit_seconds=envint("TRANSCRIBE_TIME_LIMIT", 3600, minimum=10),
            max_attempts=envint("TRANSCRIBE_MAX_ATTEMPTS", 3, minimum=1),
            nltk_data=envstr("NLTK_DATA", "").strip(),
        )

    def as_dict(self) -> dict[str, object]:
        """The settings without secrets, for logs and the benchmark's header."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["hf_token"] = "***" if self.hf_token else ""
        return out

    @property
    def cpu_threads(self) -> int:
        """CTranslate2 threads; 0 lets CTranslate2 pick (its default is 4)."""
        return self.threads


@functools.cache
def transcribe_settings() -> TranscribeSettings:
    """This process's settings, read once (like the models they describe)."""
    return TranscribeSettings.from_env()
