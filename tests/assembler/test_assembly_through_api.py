"""Through the API, in both modes: uploads of each kind end `ready` and playable, or `failed`
with a reason a user can read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from recordplus.assembler.layout import matroska_layout, mp4_is_faststart
from recordplus.assembler.probe import probe
from tests.conftest import Stack
from tests.support import fetch, upload, uneven_sizes

# sample fixture → (content type, container, video codec, audio codec)
PLAYABLE = {
    "webm_live": ("video/webm", "webm", "vp8", "opus"),
    "mp4_moov_at_end": ("video/mp4", "mp4", "h264", "aac"),
    "avi_file": ("video/mp4", "mp4", "h264", "aac"),
    "webm_no_audio": ("video/webm", "webm", "vp8", None),
}


def _upload_file(stack: Stack, sample: Path) -> int:
    data = sample.read_bytes()
    return upload(stack, data, chunk_sizes=uneven_sizes(len(data), 5))


def _download(stack: Stack, video: dict[str, Any], tmp_path: Path, name: str) -> Path:
    response = fetch(stack, f"/api/record/videos/{video['id']}/stream_video/")
    assert response.status_code == 200, response.text
    path = tmp_path / name
    path.write_bytes(response.content)
    return path


@pytest.mark.parametrize("sample", sorted(PLAYABLE))
def test_it_makes_each_upload_playable(
    stack: Stack, sample: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    content_type, container, video_codec, audio_codec = PLAYABLE[sample]
    video_id = _upload_file(stack, request.getfixturevalue(sample))

    video = stack.wait_for(video_id)

    assert video["status"] == "ready", video["error"]
    assert (video["content_type"], video["container"]) == (content_type, container)
    assert (video["video_codec"], video["audio_codec"] or None) == (video_codec, audio_codec)
    assert (video["width"], video["height"]) == (320, 240)
    assert video["duration"] is not None and abs(video["duration"] - 4.0) < 0.25
    assert video["frame_rate"] == pytest.approx(25.0, abs=0.5)
    assert video["has_audio"] is (audio_codec is not None)
    assert video["progress"] == 1.0

    served = _download(stack, video, tmp_path, f"served.{container}")
    assert served.stat().st_size == video["size"]
    facts = probe(served)
    assert facts.duration is not None and abs(facts.duration - video["duration"]) < 0.05
    if container == "webm":
        assert matroska_layout(served).cues_before_clusters  # seekable from the first fetch
    else:
        assert mp4_is_faststart(served)


def test_it_serves_a_jpeg_thumbnail(stack: Stack, mp4_moov_at_end: Path) -> None:
    video = stack.wait_for(_upload_file(stack, mp4_moov_at_end))
    assert video["status"] == "ready", video["error"]
    assert video["thumbnail_url"]

    response = fetch(stack, f"/api/record/videos/{video['id']}/thumbnail")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/jpeg")
    assert response.content[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("sample", "reason"),
    [
        ("garbage_file", "MP4, WebM or AVI"),
        ("truncated_mp4", "moov"),
    ],
)
def test_it_fails_what_is_not_a_video_with_a_reason(
    stack: Stack, sample: str, reason: str, request: pytest.FixtureRequest
) -> None:
    video = stack.wait_for(_upload_file(stack, request.getfixturevalue(sample)))

    assert video["status"] == "failed"
    assert reason in video["error"]
    assert "/tmp" not in video["error"]  # the reason names no server paths
