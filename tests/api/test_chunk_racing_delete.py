"""A chunk whose video is deleted while its bytes are being written: the owner's delete removes
the video's folder (the chunk's temporary file with it), and the upload must end in a 404 that
says so — not a 500 from the rename into a folder that no longer exists — leaving nothing behind."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from recordplus.core.errors import VideoDeleted
from recordplus.core.storage import get_store
from recordplus.videos import services
from recordplus.videos.models import Chunk, Video

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> None:  # noqa: ANN001
    settings.MEDIA_ROOT = str(tmp_path / "media")
    get_store.cache_clear()
    yield
    get_store.cache_clear()


class DeletedMidway(io.RawIOBase):
    """A request body whose video is deleted by its owner after the first piece was read."""

    def __init__(self, video: Video, data: bytes) -> None:
        self.video, self.data, self.reads = video, data, 0

    def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if self.reads == 2:
            services.video_delete(video=self.video)  # commits: the folder goes at once
        piece, self.data = self.data[: max(n, 0) or len(self.data)], self.data[max(n, 0) or len(self.data) :]
        return piece


def test_a_chunk_racing_the_delete_of_its_video_is_a_404_and_leaves_nothing(settings, tmp_path: Path) -> None:  # noqa: ANN001
    video = services.video_create(auth=None, title="racing")
    services.chunk_store(video=video, data=io.BytesIO(b"piece 0"), chunk_index=0)  # the folder exists
    body = DeletedMidway(video, b"x" * (3 * 1024 * 1024))
    with pytest.raises(VideoDeleted) as raised:
        services.chunk_store(video=video, data=body, chunk_index=1)
    assert raised.value.status == 404
    assert body.reads >= 2  # the delete really happened mid-write
    assert not Video.objects.filter(pk=video.pk).exists() and not Chunk.objects.filter(video_id=video.pk).exists()
    media = Path(settings.MEDIA_ROOT)
    assert [p for p in media.rglob("*") if p.is_file()] == []
