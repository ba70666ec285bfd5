"""Every object key of a video, from recordplus.core.storage.keys: all under the video's
prefix (so deleting a video is deleting that prefix), chunk keys unique, and only the
renditions and transcript formats the product knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from recordplus.core.storage import keys
from recordplus.core.storage.filesystem import FileStore
from recordplus.videos.models import new_public_id

PUBLIC_ID = "Xy3_-kq9TzB0aaQc"


def every_key(public_id: str) -> list[str]:
    return [
        keys.new_chunk(public_id),
        keys.source(public_id),
        *(keys.rendition(public_id, ext) for ext in keys.RENDITION_EXTENSIONS),
        keys.thumbnail(public_id),
        keys.audio(public_id),
        *(keys.transcript(public_id, fmt) for fmt in keys.TRANSCRIPT_FORMATS),
    ]


def test_it_puts_every_key_under_the_video_prefix() -> None:
    prefix = keys.video_prefix(PUBLIC_ID)
    assert prefix == f"videos/{PUBLIC_ID}/"
    assert keys.chunks_prefix(PUBLIC_ID).startswith(prefix)
    for key in every_key(PUBLIC_ID):
        assert key.startswith(prefix), key
        assert len(key) > len(prefix)


def test_it_spells_the_keys_the_stored_objects_use() -> None:
    # Existing objects in buckets and data folders have these names: they must not drift.
    p = f"videos/{PUBLIC_ID}/"
    assert keys.source(PUBLIC_ID) == p + "source.bin"
    assert keys.rendition(PUBLIC_ID, "webm") == p + "video.webm"
    assert keys.rendition(PUBLIC_ID, "mp4") == p + "video.mp4"
    assert keys.thumbnail(PUBLIC_ID) == p + "thumbnail.jpg"
    assert keys.audio(PUBLIC_ID) == p + "audio.wav"
    assert [keys.transcript(PUBLIC_ID, f) for f in ("json", "vtt", "srt", "txt")] == [
        p + "transcript.json", p + "transcript.vtt", p + "transcript.srt", p + "transcript.txt",
    ]  # fmt: skip
    assert keys.new_chunk(PUBLIC_ID).startswith(p + "chunks/") and keys.new_chunk(PUBLIC_ID).endswith(".part")


def test_it_keeps_one_video_out_of_another_s_prefix() -> None:
    # "videos/ab/" must not be a prefix of anything of "abc": the trailing slash sees to it.
    for key in every_key("abc"):
        assert not key.startswith(keys.video_prefix("ab"))
    assert not keys.video_prefix("abc").startswith(keys.video_prefix("ab"))


def test_it_makes_unique_chunk_keys() -> None:
    chunk_keys = [keys.new_chunk(PUBLIC_ID) for _ in range(5000)]
    assert len(set(chunk_keys)) == len(chunk_keys)
    assert all(k.startswith(keys.chunks_prefix(PUBLIC_ID)) for k in chunk_keys)
    assert not set(chunk_keys) & set(every_key(PUBLIC_ID)[1:])


def test_it_gives_every_object_its_own_key() -> None:
    all_keys = every_key(PUBLIC_ID)
    assert len(set(all_keys)) == len(all_keys)
    # Nothing but chunks under chunks/, so deleting the chunks never deletes the video.
    assert [k for k in all_keys if k.startswith(keys.chunks_prefix(PUBLIC_ID))] == all_keys[:1]


@pytest.mark.parametrize("extension", ["avi", "mkv", "WEBM", "", ".mp4", "webm/../x", "bin"])
def test_it_refuses_an_unknown_rendition(extension: str) -> None:
    with pytest.raises(ValueError, match="renditions are"):
        keys.rendition(PUBLIC_ID, extension)


@pytest.mark.parametrize("fmt", ["pdf", "JSON", "", "vtt/../../x", "srt "])
def test_it_refuses_an_unknown_transcript_format(fmt: str) -> None:
    with pytest.raises(ValueError, match="transcripts are stored as"):
        keys.transcript(PUBLIC_ID, fmt)


def test_it_makes_keys_a_file_store_accepts(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    for _ in range(200):
        public_id = new_public_id()
        prefix = store.path(keys.video_prefix(public_id))
        for key in every_key(public_id):
            assert not key.startswith("/") and ".." not in key.split("/")
            path = store.path(key)
            assert path.is_relative_to(prefix)
            assert path.relative_to(tmp_path.resolve()).as_posix() == key
