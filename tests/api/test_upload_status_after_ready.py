"""A ready video's upload status still reports what was received, though its chunk rows are gone."""

from __future__ import annotations

import pytest

from recordplus.videos.models import Chunk, Video
from recordplus.videos.records import ReadyMedia
from recordplus.videos.selectors import upload_status
from recordplus.videos.services import video_mark_ready
from tests.conftest import Stack
from tests.support import make_webm, upload

MEDIA = ReadyMedia(
    video_key="v.mp4", content_type="video/mp4", container="mp4", video_codec="h264", audio_codec="aac",
    duration=1.0, width=2, height=2, frame_rate=30.0, has_audio=True, size=99,
)


@pytest.mark.django_db
def test_it_keeps_the_received_counts_at_ready() -> None:
    video = Video.objects.create(title="t", status=Video.Status.ASSEMBLING)
    for index, size in enumerate((10, 20, 30)):
        Chunk.objects.create(video=video, index=index, size=size, checksum=f"{index}", key=f"k{index}")
    video_mark_ready(video_id=video.pk, media=MEDIA)
    video_mark_ready(video_id=video.pk, media=MEDIA)  # a second run finds no chunks: counts stay
    status = upload_status(Video.objects.get(pk=video.pk))
    assert not Chunk.objects.filter(video=video).exists()
    assert (status["status"], status["chunks"], status["bytes"]) == ("ready", 3, 60)
    assert status["received"] == [0, 1, 2] and status["missing"] == [] and status["next_index"] == 3
    assert status["accepting_chunks"] is False


def test_it_reports_what_a_real_upload_brought(embedded_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> None:
    data = make_webm(tmp_path_factory.mktemp("media") / "status.webm", seconds=2).read_bytes()
    sizes = [len(data) // 3, len(data) // 3]
    video_id = upload(embedded_stack, data, chunk_sizes=sizes)
    assert embedded_stack.wait_for(video_id)["status"] == "ready"
    with embedded_stack.client() as client:
        status = client.get(f"/api/record/videos/{video_id}/upload").json()
    assert (status["chunks"], status["bytes"]) == (3, len(data))
