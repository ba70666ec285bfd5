"""make_playable(): from the stitched upload in storage to rendition, thumbnail and audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from recordplus.assembler.layout import matroska_layout, mp4_is_faststart
from recordplus.assembler.media import MediaRejected, make_playable
from recordplus.core.storage.filesystem import FileStore

PUBLIC_ID = "abc123"
PREFIX = f"videos/{PUBLIC_ID}/"
SOURCE = f"{PREFIX}source.bin"


@pytest.fixture
def storage(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "media")


def _upload(storage: FileStore, sample: Path) -> None:
    target = storage.path(SOURCE)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample, target)


def _keys(storage: FileStore) -> list[str]:
    root = storage.root
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _run(storage: FileStore, tmp_path: Path, progress: list[float] | None = None):
    workdir = tmp_path / "work"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    return make_playable(
        store=storage, public_id=PUBLIC_ID, workdir=workdir,
        progress=progress.append if progress is not None else None,
    )


def test_it_makes_a_mediarecorder_webm_seekable(storage: FileStore, webm_live: Path, tmp_path: Path) -> None:
    _upload(storage, webm_live)
    seen: list[float] = []
    outcome = _run(storage, tmp_path, seen)
    assert outcome.video_key == f"{PREFIX}video.webm" and outcome.content_type == "video/webm"
    assert (outcome.container, outcome.video_codec, outcome.audio_codec) == ("webm", "vp8", "opus")
    assert outcome.duration is not None and abs(outcome.duration - 4.0) < 0.2
    assert (outcome.width, outcome.height, outcome.has_audio) == (320, 240, True)
    assert outcome.size == storage.size(outcome.video_key)
    assert matroska_layout(Path(storage.path(outcome.video_key))).cues_before_clusters
    assert outcome.thumbnail_key == f"{PREFIX}thumbnail.jpg"
    assert outcome.audio_key == f"{PREFIX}audio.wav"
    assert _keys(storage) == [f"{PREFIX}audio.wav", SOURCE, f"{PREFIX}thumbnail.jpg", f"{PREFIX}video.webm"]
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_it_is_idempotent(storage: FileStore, avi_file: Path, tmp_path: Path) -> None:
    _upload(storage, avi_file)
    first = _run(storage, tmp_path)
    second = _run(storage, tmp_path)
    assert first == second
    # Overwritten in place: no `video_AbC12.mp4` style duplicates.
    assert _keys(storage) == [f"{PREFIX}audio.wav", SOURCE, f"{PREFIX}thumbnail.jpg", f"{PREFIX}video.mp4"]
    assert mp4_is_faststart(Path(storage.path(first.video_key)))
    assert (first.video_codec, first.audio_codec, first.container) == ("h264", "aac", "mp4")


def test_it_writes_no_audio_for_a_silent_video(storage: FileStore, webm_no_audio: Path, tmp_path: Path) -> None:
    _upload(storage, webm_no_audio)
    outcome = _run(storage, tmp_path)
    assert (outcome.has_audio, outcome.audio_key, outcome.audio_codec) == (False, "", "")  # ReadyMedia spells "none" as the model does: ""
    assert f"{PREFIX}audio.wav" not in _keys(storage)


def test_it_replaces_an_earlier_runs_other_rendition(
    storage: FileStore, mp4_moov_at_end: Path, webm_no_audio: Path, tmp_path: Path
) -> None:
    _upload(storage, webm_no_audio)
    _run(storage, tmp_path)
    _upload(storage, mp4_moov_at_end)
    outcome = _run(storage, tmp_path)
    assert outcome.video_key == f"{PREFIX}video.mp4"
    assert f"{PREFIX}video.webm" not in _keys(storage)


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ("garbage_file", "MP4, WebM or AVI"),
        ("truncated_mp4", "moov"),
        ("m4a_file", "no video track"),
    ],
)
def test_it_rejects_what_is_not_a_video(
    sample: str, reason: str, storage: FileStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    _upload(storage, request.getfixturevalue(sample))
    with pytest.raises(MediaRejected, match=reason):
        _run(storage, tmp_path)
    assert _keys(storage) == [SOURCE]


def test_it_rejects_a_recording_without_frames(storage: FileStore, webm_live: Path, tmp_path: Path) -> None:
    # What MediaRecorder sends when stopped at once: the header, no Cluster.
    data = webm_live.read_bytes()
    header_only = tmp_path / "header.webm"
    header_only.write_bytes(data[: data.index(bytes.fromhex("1F43B675"))])
    _upload(storage, header_only)
    with pytest.raises(MediaRejected, match="before any video frames|no video frames"):
        _run(storage, tmp_path)
