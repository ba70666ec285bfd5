"""Audio for the transcriber: 16 kHz mono 16-bit WAV."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordplus.assembler.errors import MediaRejected
from recordplus.assembler.probe import probe
from recordplus.assembler.renditions import extract_audio


@pytest.mark.parametrize("sample", ["webm_live", "avi_file", "mp4_moov_at_end"])
def test_it_writes_16khz_mono_wav(sample: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    source: Path = request.getfixturevalue(sample)
    wav = extract_audio(source, tmp_path / "audio.wav")
    facts = probe(wav)
    assert facts.container == "wav" and facts.audio_codec == "pcm_s16le"
    assert facts.audio_channels == 1
    assert wav.read_bytes()[24:28] == (16000).to_bytes(4, "little")  # the WAV header's sample rate
    assert facts.duration is not None and abs(facts.duration - 4.0) < 0.2


def test_it_refuses_a_video_without_audio(webm_no_audio: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaRejected):
        extract_audio(webm_no_audio, tmp_path / "audio.wav")
    assert not (tmp_path / "audio.wav").exists()
