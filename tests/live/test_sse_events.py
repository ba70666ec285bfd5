"""The live stream's events, in-process: SSE framing, resume after Last-Event-ID, the end.

Bugs it catches: an event without its blank-line terminator (a browser never fires it), a
segment id that is not its index (resume replays the wrong ones), a resume that replays the
segment the client already has or skips the next one, a provisional event repeated on every
poll, a stream that does not end with `done`/`failed`.
"""

from __future__ import annotations

import json

from recordplus.transcripts.live_stream import (
    Snapshot,
    comment,
    event,
    events_for,
    resume_after,
)


def parse(raw: bytes) -> list[dict]:
    """Events as a browser's EventSource sees them (comments dropped)."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields: dict = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = value
        fields["data"] = json.loads(fields["data"])
        out.append(fields)
    return out


SEGMENTS = [{"start": float(i), "end": i + 0.9, "text": f"s{i}", "words": []} for i in range(5)]


def test_it_frames_events_as_the_sse_spec_says() -> None:
    raw = event("segment", {"index": 3, "text": "é"}, 3)
    assert raw == 'id: 3\nevent: segment\ndata: {"index":3,"text":"é"}\n\n'.encode()
    assert comment("keep-alive") == b": keep-alive\n\n"
    assert b"\nid:" not in event("provisional", {"text": ""})


def test_it_sends_segments_in_order_with_their_index_as_id() -> None:
    out, sent, over = events_for(Snapshot("running", segments=SEGMENTS[:3]), -1, None)
    events = parse(b"".join(out))
    assert [e["id"] for e in events] == ["0", "1", "2"]
    assert [e["data"]["index"] for e in events] == [0, 1, 2]
    assert sent == 2 and not over


def test_a_resume_replays_exactly_the_later_segments() -> None:
    after = resume_after("2", None)
    out, sent, over = events_for(Snapshot("done", segments=SEGMENTS), after, None)
    events = parse(b"".join(out))
    assert [e["data"]["index"] for e in events if e["event"] == "segment"] == [3, 4]
    assert events[-1] == {"event": "done", "data": {"status": "done", "segments": 5}}
    assert over and sent == 4


def test_it_reads_the_resume_point_from_the_header_or_the_query() -> None:
    assert resume_after(None, None) == -1
    assert resume_after("4", "1") == 4
    assert resume_after(None, "1") == 1
    assert resume_after("junk", "2") == 2
    assert resume_after("-7", None) == -1


def test_it_sends_the_provisional_tail_only_when_it_changes() -> None:
    tail = {"start": 4.9, "end": 7.0, "text": ""}
    out, _, _ = events_for(Snapshot("running", segments=SEGMENTS, provisional=tail), 4, None)
    assert [e["event"] for e in parse(b"".join(out))] == ["provisional"]
    out, _, _ = events_for(Snapshot("running", segments=SEGMENTS, provisional=tail), 4, tail)
    assert out == []


def test_it_ends_with_failed() -> None:
    out, _, over = events_for(Snapshot("failed", error="the video was deleted"), -1, None)
    assert over
    assert parse(b"".join(out)) == [{"event": "failed", "data": {"status": "failed", "error": "the video was deleted"}}]
