"""Helpers the transcription tests (and the shared conftest's cluster stack) use.

Everything is made here, offline: speech with espeak-ng, videos with ffmpeg, and a tiny
randomly initialised wav2vec2 CTC alignment model with an English character vocabulary (no
real alignment weights can be had here, so WhisperX tests check structure, not accuracy).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path


from tests.needs import IN_CI, require, substitute

BUNDLED_NLTK_DATA = (
    Path(__file__).resolve().parents[2] / "services/transcriber/src/recordplus/transcriber/nltk_data"
)
# wav2vec2 CTC vocabularies put the blank first and use "|" between words.
ALIGN_VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"]

SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please send the quarterly report to the finance team before Friday.",
    "Our new recording tool uploads every chunk while you are still talking.",
)




def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    require(not missing, f"{', '.join(missing)} not installed (apt-get install -y ffmpeg espeak-ng)")


def whisperx_installed() -> bool:
    return importlib.util.find_spec("whisperx") is not None


def require_whisperx() -> None:
    require(whisperx_installed(), "WhisperX is not installed (uv sync --extra whisperx)")


def _run(*args: str) -> None:
    subprocess.run(list(args), check=True, capture_output=True, timeout=300)


def speak(text: str, path: Path, *, rate: int = 150, lead_silence: float = 0.0) -> Path:
    """English speech from espeak-ng as a 16 kHz mono 16-bit WAV, optionally after silence."""
    raw = path.with_suffix(".espeak.wav")
    _run("espeak-ng", "-v", "en-us", "-s", str(rate), "-w", str(raw), text)
    if lead_silence > 0:
        delay = int(lead_silence * 1000)
        _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw),
             "-af", f"adelay={delay}:all=1", "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(path))  # fmt: skip
    else:
        _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw),
             "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(path))  # fmt: skip
    raw.unlink(missing_ok=True)
    return path


def concat_wavs(parts: list[Path], path: Path, *, gap: float = 0.8) -> Path:
    """Join WAVs with `gap` seconds of silence between them (16 kHz mono)."""
    inputs: list[str] = []
    for i, part in enumerate(parts):
        inputs += ["-i", str(part)]
        if i < len(parts) - 1:
            inputs += ["-f", "lavfi", "-t", str(gap), "-i", "anullsrc=r=16000:cl=mono"]
    count = inputs.count("-i")
    graph = "".join(f"[{i}:a]" for i in range(count)) + f"concat=n={count}:v=0:a=1[out]"
    _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, "-filter_complex", graph,
         "-map", "[out]", "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le", str(path))  # fmt: skip
    return path


def make_video(
    audio: Path | None, path: Path, *, seconds: float | None = None, size: str = "320x240", rate: int = 15
) -> Path:
    """A real video (WebM VP8/Opus, or MP4 H.264/AAC by suffix) with `audio` as its sound track,
    or without any audio stream when `audio` is None."""
    if seconds is None:
        if audio is None:
            raise ValueError("a silent video needs a length")
        seconds = float(json.loads(subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(audio)],
            check=True, capture_output=True, text=True).stdout)["format"]["duration"])  # fmt: skip
    picture = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    sound = ["-i", str(audio)] if audio is not None else []
    if path.suffix == ".mp4":
        codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
    else:
        codecs = ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "300k", "-c:a", "libopus"]
    maps = ["-map", "0:v", "-map", "1:a"] if audio is not None else ["-map", "0:v"]
    _run("ffmpeg", "-nostdin", "-loglevel", "error", "-y", *picture, *sound, *maps, *codecs, "-shortest", str(path))
    return path


def build_tiny_align_model(path: Path) -> Path:
    """A tiny randomly initialised `Wav2Vec2ForCTC` with an English character vocabulary,
    saved as a local Hugging Face directory `whisperx.load_align_model` accepts.

    Its alignments are meaningless (random weights); it exercises the real WhisperX alignment
    code path offline. Idempotent: an existing model directory is reused.
    """
    if (path / "config.json").is_file() and (path / "preprocessor_config.json").is_file():
        return path
    import torch
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    path.mkdir(parents=True, exist_ok=True)
    vocab_file = path / "vocab.json"
    vocab_file.write_text(json.dumps({token: i for i, token in enumerate(ALIGN_VOCAB)}))
    tokenizer = Wav2Vec2CTCTokenizer(
        str(vocab_file), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|"
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=False
    )
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(str(path))
    torch.manual_seed(0)
    config = Wav2Vec2Config(
        vocab_size=len(ALIGN_VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7,
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=4,
        pad_token_id=0,
        feat_extract_norm="group",
    )
    Wav2Vec2ForCTC(config).save_pretrained(str(path))
    return path


def whisperx_env(align_model: Path) -> dict[str, str]:
    """The environment a WhisperX worker needs here: engine, offline models, no telemetry."""
    return {
        "TRANSCRIBE_ENGINE": "whisperx",
        "ALIGN_MODEL": str(align_model),
        "NLTK_DATA": str(BUNDLED_NLTK_DATA),
        "PYANNOTE_METRICS_ENABLED": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "WHISPER_BATCH_SIZE": "4",
        "WHISPER_THREADS": "2",
    }


def cluster_worker_env(workdir: Path) -> dict[str, str]:
    """What the shared conftest's cluster stack adds to its worker's environment: the WhisperX
    engine with a tiny alignment model built into `workdir`. Without WhisperX installed (a dev
    machine that skipped the extra) the light engine runs instead; under CI WhisperX is
    required, and the cluster transcription test fails if another engine ran."""
    if not substitute(whisperx_installed(), "WhisperX (uv sync --extra whisperx)", "faster-whisper in the cluster worker"):
        return {"TRANSCRIBE_ENGINE": "faster-whisper", "WHISPER_THREADS": "2"}
    return whisperx_env(build_tiny_align_model(workdir / "align-model"))


_WORD = re.compile(r"[a-z0-9']+")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance divided by the reference length (case and punctuation ignored)."""
    ref, hyp = words_of(reference), words_of(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)
