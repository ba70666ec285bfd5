"""WebVTT, SRT and plain text from transcript segments. Plain module: no Django, no Dramatiq.

Long segments are split into cues at word boundaries so a caption never stays on screen for
more than `max_seconds` or grows past `max_chars`; cues are ordered and never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from recordplus.transcripts.records import Segment

MAX_CUE_SECONDS = 7.0
# Two lines of at most ~42 characters, the common subtitle guideline.
MAX_LINE_CHARS = 42
MAX_CUE_CHARS = 2 * MAX_LINE_CHARS
# A cue needs a positive duration to be shown at all.
MIN_CUE_SECONDS = 0.05


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    speaker: str | None = None


def format_timestamp(seconds: float, *, decimal: str = ".") -> str:
    """`HH:MM:SS.mmm` (WebVTT) or `HH:MM:SS,mmm` (SRT, with decimal=",")."""
    millis = max(0, int(round(seconds * 1000)))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def _split_segment(segment: Segment, max_seconds: float, max_chars: int) -> list[Cue]:
    text = segment.text.strip()
    if not text:
        return []
    too_long = (segment.end - segment.start) > max_seconds or len(text) > max_chars
    if not segment.words or not too_long:
        return [Cue(segment.start, segment.end, text, segment.speaker)]
    cues: list[Cue] = []
    group: list = []
    for word in segment.words:
        if group:
            length = len(" ".join(w.word for w in group)) + 1 + len(word.word)
            if word.end - group[0].start > max_seconds or length > max_chars:
                cues.append(Cue(group[0].start, group[-1].end, " ".join(w.word for w in group), segment.speaker))
                group = []
        group.append(word)
    if group:
        cues.append(Cue(group[0].start, group[-1].end, " ".join(w.word for w in group), segment.speaker))
    # The first and last cue reach the segment's edges so the captions cover all of its speech.
    cues[0] = Cue(min(cues[0].start, segment.start), cues[0].end, cues[0].text, cues[0].speaker)
    cues[-1] = Cue(cues[-1].start, max(cues[-1].end, segment.end), cues[-1].text, cues[-1].speaker)
    return cues


def build_cues(
    segments: list[Segment], *, max_seconds: float = MAX_CUE_SECONDS, max_chars: int = MAX_CUE_CHARS
) -> list[Cue]:
    """Ordered, non-overlapping cues with positive durations."""
    cues: list[Cue] = []
    previous_end = 0.0
    for segment in sorted(segments, key=lambda s: s.start):
        for cue in _split_segment(segment, max_seconds, max_chars):
            start = max(cue.start, previous_end)
            end = max(cue.end, start + MIN_CUE_SECONDS)
            cues.append(Cue(start, end, cue.text, cue.speaker))
            previous_end = end
    return cues


def wrap_lines(text: str, width: int = MAX_LINE_CHARS) -> str:
    """Break a cue's text into two balanced lines when it is longer than one line."""
    if len(text) <= width or " " not in text:
        return text
    middle = len(text) // 2
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    cut = min(spaces, key=lambda i: abs(i - middle))
    return f"{text[:cut]}\n{text[cut + 1:]}"


def _escape_vtt(text: str) -> str:
    # WebVTT cue text treats & and < as markup.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(segments: list[Segment]) -> str:
    """A WebVTT document (speakers, when diarized, as voice spans)."""
    lines = ["WEBVTT", ""]
    for cue in build_cues(segments):
        lines.append(f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}")
        text = wrap_lines(_escape_vtt(cue.text))
        lines.append(f"<v {cue.speaker}>{text}" if cue.speaker else text)
        lines.append("")
    return "\n".join(lines)


def to_srt(segments: list[Segment]) -> str:
    """A SubRip document, cues numbered from 1."""
    lines: list[str] = []
    for number, cue in enumerate(build_cues(segments), start=1):
        lines.append(str(number))
        lines.append(f"{format_timestamp(cue.start, decimal=',')} --> {format_timestamp(cue.end, decimal=',')}")
        lines.append(wrap_lines(f"[{cue.speaker}] {cue.text}" if cue.speaker else cue.text))
        lines.append("")
    return "\n".join(lines)


def to_text(segments: list[Segment]) -> str:
    """Plain text, one segment a line (prefixed by its speaker when diarized)."""
    lines = []
    for segment in segments:
        text = segment.text.strip()
        if text:
            lines.append(f"{segment.speaker}: {text}" if segment.speaker else text)
    return "\n".join(lines) + ("\n" if lines else "")
