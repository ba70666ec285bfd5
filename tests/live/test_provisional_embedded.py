"""Provisional captions end to end in the embedded stack (in-process workers, real tiny.en).

The first ~10 s of a speech recording are sent in 1 s pieces with chunk_index — less than
LIVE_WINDOW_MIN_SECONDS, so no window can close yet — and a `transcript/live` reader must get
an `event: provisional` whose text holds words of that speech, before any committed segment.
Then the rest is sent and the upload finalized: the stream ends with `done`, its segments are
the final transcript's, every non-empty draft the stream showed covered audio after the
segments committed before it, and the final transcript is as good as the live path's always
is (the drafts never reach it).

Bugs it catches: provisional text that never reaches the stream (empty for good, the state
before this feature), a draft pass that is never sent or never runs in the embedded workers,
a draft recorded for a window that already closed (shown over committed segments), drafts
leaking into (or breaking) the final transcript.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collections.abc import Iterator

from tests.conftest import Stack, make_embedded_stack
from tests.live.media import SENTENCES, seconds_of, webm_of
from tests.live.test_live_embedded import SseReader, one_second_pieces, wait_transcript
from tests.support import create_video, finalize, send_chunk
from tests.transcriber.fixtures import word_error_rate

pytestmark = pytest.mark.embedded

HEAD_SECONDS = 10  # sent before the wait: past LIVE_PROVISIONAL_SECONDS (6), short of a window (16)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


SPEECH_WORDS = words(" ".join(SENTENCES)) - {"the", "to", "and", "a", "at", "in", "of"}


@pytest.fixture(scope="module")
def drafting_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """An embedded server with drafts on (they are off by default there: their CPU cost)."""
    stack = make_embedded_stack(tmp_path_factory.mktemp("drafting"), LIVE_PROVISIONAL_SECONDS="6")
    yield stack
    stack.stop()


def test_a_reader_sees_the_open_windows_draft_before_its_segments(
    drafting_stack: Stack, live_media: Path, long_speech: Path
) -> None:
    stack = drafting_stack
    path = webm_of(long_speech, live_media / "long-live.webm", live=True)
    data, seconds = path.read_bytes(), seconds_of(long_speech)
    pieces = one_second_pieces(data, seconds)
    with stack.client() as client:
        video_id = create_video(client, "provisional")
        live = SseReader(f"{stack.api}/videos/{video_id}/transcript/live")
        live.wait(lambda: live.status is not None, "the response", stack)
        assert live.status == 200
        for index, piece in enumerate(pieces[:HEAD_SECONDS]):
            assert send_chunk(client, video_id, piece, index).status_code == 200

        def drafted() -> bool:
            return any(e.get("event") == "provisional" and e["data"]["text"] for e in live.events)

        live.wait(drafted, "a provisional event with text", stack)
        first = next(i for i, e in enumerate(live.events) if e.get("event") == "provisional" and e["data"]["text"])
        draft = live.events[first]["data"]
        assert set(draft) == {"start", "end", "text"}
        assert not [e for e in live.events[:first] if e.get("event") == "segment"]
        assert draft["start"] == 0.0 and 0 < draft["end"] <= HEAD_SECONDS + 1
        assert words(draft["text"]) & SPEECH_WORDS, draft

        for index, piece in enumerate(pieces[HEAD_SECONDS:], start=HEAD_SECONDS):
            response = client.patch(
                "/api/record/videos/update_video_chunck",
                data={"video_id": str(video_id), "chunk_index": str(index), "last": "true" if index == len(pieces) - 1 else "false"},
                files={"video_chunck": ("blob", piece, "video/webm")},
            )  # fmt: skip
            assert response.status_code == 200, response.text
        assert finalize(client, video_id).status_code == 200
    live.wait(lambda: live.closed.is_set(), "the end of the stream", stack)
    assert live.events[-1]["event"] == "done", live.events[-3:]
    final = wait_transcript(stack, video_id)
    assert final["status"] == "done"

    streamed = live.segments()
    assert [(s["start"], s["end"], s["text"]) for s in streamed] == [
        (s["start"], s["end"], s["text"]) for s in final["segments"]
    ]
    # A draft shown after segments were committed covers only audio after them.
    committed_end = 0.0
    for item in live.events:
        if item.get("event") == "segment":
            committed_end = max(committed_end, item["data"]["end"])
        elif item.get("event") == "provisional":
            assert set(item["data"]) == {"start", "end", "text"}
            if item["data"]["text"]:
                assert item["data"]["start"] >= committed_end, (item, committed_end)
    # The drafts never reach the final transcript: as good as the live path's guard allows
    # (tests/live/test_live_embedded.py measures 0.07-0.12 for the live path on tiny.en).
    reference = " ".join(SENTENCES * 2)
    assert word_error_rate(reference, final["text"]) <= 0.25, final["text"]
