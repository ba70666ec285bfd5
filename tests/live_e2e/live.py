"""Helpers of the live-transcription tests and of tests/bench/bench_live.py: the spoken script
(espeak-ng), a MediaRecorder-like WebM cut into its 1 s clusters, a Server-Sent Events reader,
the whole-file reference transcript, and the checks a merged transcript must pass.

Plain helpers: no fixtures here (tests/live_e2e/conftest.py holds those).
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.transcriber.fixtures import concat_wavs, speak, word_error_rate, words_of

# What is said, one sentence a line, with a pause between sentences (the voice-activity cuts
# the server windows at). About 70 s at espeak-ng's 150 words a minute.
SCRIPT = (
    "Good morning everyone and welcome to the weekly product review.",
    "Today we walk through the new live recording feature from start to finish.",
    "While you are still talking, every second of video travels to the server.",
    "The server listens to the sound and writes down what it hears.",
    "Short pauses between sentences tell it where one thought ends.",
    "Each finished piece of text appears on the screen a few seconds later.",
    "When you press stop, almost all of the work is already done.",
    "The video is ready to watch at once, with its captions in place.",
    "Our finance team asked for a summary of the quarterly numbers.",
    "Sales grew in every region except the northern market.",
    "We plan to hire two more engineers before the end of the summer.",
    "The support queue is shorter than it has been all year.",
    "Please send your questions to the product channel after the meeting.",
    "Thank you all for listening, and have a wonderful afternoon.",
)
LEAD_SILENCE = 0.5
GAP_SECONDS = 0.8
# The longest stretch without speech inside the script (a pause between sentences, plus how far
# tiny.en's word times may stray). A longer hole between two words means words were lost.
MAX_SILENT_GAP = 2.5


@dataclass(frozen=True)
class Speech:
    """A WAV of `text` (16 kHz mono) and where each sentence sits in it (seconds)."""

    wav: Path
    text: str
    sentences: list[tuple[float, float, str]]

    @property
    def seconds(self) -> float:
        return self.sentences[-1][1]


def wav_seconds(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return float(json.loads(out)["format"]["duration"])


def make_speech(folder: Path, script: tuple[str, ...] = SCRIPT, *, repeat: int = 1) -> Speech:
    """espeak-ng says `script` (`repeat` times over) with GAP_SECONDS between sentences, after
    LEAD_SILENCE; cached in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, sentence in enumerate(script):
        part = folder / f"sentence-{i:02d}.wav"
        if not part.exists():
            speak(sentence, part, lead_silence=LEAD_SILENCE if i == 0 else 0)
        parts.append(part)
    lengths = [wav_seconds(p) for p in parts]
    wav = folder / f"speech-x{repeat}.wav"
    if not wav.exists():
        concat_wavs(parts * repeat, wav, gap=GAP_SECONDS)
    sentences, at = [], 0.0
    for round_ in range(repeat):
        for i, (sentence, length) in enumerate(zip(script, lengths)):
            lead = LEAD_SILENCE if i == 0 else 0.0
            sentences.append((at + lead, at + length, sentence))
            at += length + GAP_SECONDS
    return Speech(wav=wav, text=" ".join(list(script) * repeat), sentences=sentences)


def make_recording(speech: Speech, path: Path, *, size: str = "320x240", rate: int = 15, codec: str = "vp8") -> Path:
    """A MediaRecorder-like WebM of `speech` (moving picture, Opus sound) written as a live
    stream (no duration, no cues) in 1 s clusters, each starting on a key frame; cached."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    video = ["-c:v", "libvpx", "-b:v", "250k"] if codec == "vp8" else ["-c:v", "libvpx-vp9", "-b:v", "250k", "-row-mt", "1"]
    partial = path.with_suffix(".partial.webm")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}", "-i", str(speech.wav),
         "-map", "0:v", "-map", "1:a", "-shortest",
         *video, "-deadline", "realtime", "-cpu-used", "8", "-g", str(rate), "-keyint_min", str(rate),
         "-c:a", "libopus", "-b:a", "48k", "-ar", "48000",
         "-cluster_time_limit", "1000", "-cluster_size_limit", str(64 << 20), "-live", "1",
         "-f", "webm", str(partial)],
        check=True, capture_output=True, timeout=1800,
    )  # fmt: skip
    partial.rename(path)
    return path


# --- WebM clusters --------------------------------------------------------------------------

_SEGMENT, _CLUSTER = 0x18538067, 0x1F43B675


def _vint(data: bytes, at: int, *, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at `at`: (value, length). Unknown sizes come back as -1."""
    first = data[at]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError(f"bad EBML number at byte {at}")
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[at + 1 : at + length]:
        value = (value << 8) | byte
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = -1
    return value, length


def webm_pieces(data: bytes) -> list[bytes]:
    """Cut a WebM into what MediaRecorder with a 1 s timeslice hands over: piece 0 is the header
    (EBML, Segment head, Info, Tracks) with the first cluster, then one piece per cluster; any
    trailing element (Cues, Tags) rides with the last piece."""
    at, starts = 0, []
    while at < len(data):
        element, id_len = _vint(data, at, keep_marker=True)
        size, size_len = _vint(data, at + id_len, keep_marker=False)
        body = at + id_len + size_len
        if element == _SEGMENT:
            at = body  # descend: its children are what we cut between
            continue
        if element == _CLUSTER:
            starts.append(at)
        if size < 0:
            raise ValueError(f"element {element:#x} of unknown size at byte {at}: cannot cut")
        at = body + size
    if len(starts) < 2:
        return [data]
    cuts = [0, *starts[1:], len(data)]
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


# --- Server-Sent Events ---------------------------------------------------------------------


@dataclass
class Event:
    """One dispatched SSE event; `at` is time.monotonic() when it was read."""

    event: str
    data: str
    id: str | None
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.data)


def sse_events(lines: Iterator[str], *, comments: list[str] | None = None) -> Iterator[Event]:
    """Parse an event stream (WHATWG HTML §9.2): `event:`, `data:` (joined by newlines), `id:`;
    lines starting with ':' are comments (kept in `comments` when given)."""
    kind, data, event_id = "message", [], None
    for raw in lines:
        line = raw.rstrip("\r")
        if line == "":
            if data:
                yield Event(kind, "\n".join(data), event_id, time.monotonic())
            kind, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            if comments is not None:
                comments.append(line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


def read_live(
    base_url: str, video_id: int, *, last_event_id: str | None = None, query_last_event_id: str | None = None,
    timeout: float = 300, headers: dict[str, str] | None = None,
) -> tuple[httpx.Response, list[Event], list[str]]:
    """Read videos/N/transcript/live until `done`/`failed` or the server closes (or `timeout`
    passes without an event: the read fails then). Returns the response (headers), the events,
    and the comment lines seen."""
    headers = {"Accept": "text/event-stream", **(headers or {})}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    params = {"last_event_id": query_last_event_id} if query_last_event_id is not None else None
    events: list[Event] = []
    comments: list[str] = []
    path = f"/api/record/videos/{video_id}/transcript/live"
    with (
        httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout, connect=30)) as client,
        client.stream("GET", path, headers=headers, params=params) as response,
    ):
        if response.status_code != 200:
            response.read()
            return response, events, comments
        for event in sse_events(response.iter_lines(), comments=comments):
            events.append(event)
            if event.event in ("done", "failed"):
                break
    return response, events, comments


class LiveReader(threading.Thread):
    """read_live in a thread from as soon as the video exists, as a viewer's EventSource would:
    an answer that is not a stream, or a stream that ends before `done`/`failed`, is retried
    (from the last id seen) until `timeout`. `events` fill as they arrive."""

    def __init__(self, base_url: str, video_id: int, timeout: float = 600, headers: dict[str, str] | None = None) -> None:
        super().__init__(daemon=True)
        self.base_url, self.video_id, self.timeout, self.headers = base_url, video_id, timeout, headers
        self.events: list[Event] = []
        self.comments: list[str] = []
        self.statuses: list[int] = []
        self.error: BaseException | None = None

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1].event in ("done", "failed")

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        headers = {"Accept": "text/event-stream", **(self.headers or {})}
        try:
            with httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(self.timeout, connect=30)) as client:
                while not self.finished and time.monotonic() < deadline:
                    ids = [e.id for e in self.events if e.id is not None]
                    if ids:
                        headers["Last-Event-ID"] = ids[-1]
                    path = f"/api/record/videos/{self.video_id}/transcript/live"
                    with client.stream("GET", path, headers=headers) as response:
                        self.statuses.append(response.status_code)
                        if response.status_code == 200:
                            for event in sse_events(response.iter_lines(), comments=self.comments):
                                self.events.append(event)
                                if self.finished:
                                    return
                        else:
                            response.read()
                    time.sleep(0.5)
        except Exception as exc:  # noqa: BLE001 - reported by the caller (the bench, the test)
            self.error = exc


# --- transcripts ----------------------------------------------------------------------------


def transcript_words(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [word for segment in segments for word in segment.get("words", [])]


def segments_text(segments: list[dict[str, Any]]) -> str:
    return " ".join(segment["text"].strip() for segment in segments)


@dataclass
class Reference:
    """The whole-file transcript of one audio file with the same model (the baseline)."""

    text: str
    segments: list[dict[str, Any]]
    wall_seconds: float
    cpu_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def whole_file_transcript(wav: Path, threads: int = 2) -> Reference:
    """Transcribe `wav` in this process, in one go, with the engine the stacks run
    (faster-whisper, the bundled tiny.en, int8 on CPU)."""
    from recordplus.transcriber.config import TranscribeSettings
    from recordplus.transcriber.engines import load_engine
    from recordplus.transcriber.runner import transcribe_wav

    settings = TranscribeSettings(engine="faster-whisper", threads=threads)
    engine = load_engine(settings)
    cpu, wall = time.process_time(), time.perf_counter()
    result = transcribe_wav(wav, engine, settings)
    segments = [segment.to_dict() for segment in result.segments]
    return Reference(
        text=segments_text(segments), segments=segments, wall_seconds=time.perf_counter() - wall,
        cpu_seconds=time.process_time() - cpu,
    )  # fmt: skip


def to_wav16k(source: Path, dest: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(source), "-vn", "-ac", "1", "-ar", "16000",
         "-c:a", "pcm_s16le", str(dest)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    return dest


def continuity_problems(segments: list[dict[str, Any]], *, duration: float, speech: Speech) -> list[str]:
    """What is wrong with a merged transcript's times: segments out of order or overlapping,
    words going back in time, outside their segment or the recording, or a hole in the words
    longer than any pause in the speech (words lost), or the same word twice at one time
    (a window's words doubled)."""
    problems: list[str] = []
    previous_end = 0.0
    for n, segment in enumerate(segments):
        if segment["end"] < segment["start"]:
            problems.append(f"segment {n} ends before it starts: {segment}")
        if segment["start"] < previous_end - 0.05:
            problems.append(f"segment {n} starts at {segment['start']} before segment {n - 1} ended at {previous_end}")
        previous_end = max(previous_end, segment["end"])
        for word in segment.get("words", []):
            if not segment["start"] - 0.05 <= word["start"] <= word["end"] <= segment["end"] + 0.05:
                problems.append(f"segment {n}: word {word} outside the segment {segment['start']}..{segment['end']}")
    words = transcript_words(segments)
    if not words:
        return [*problems, "no words"]
    # Words a window could not place end up clamped to its edge: several at one instant.
    for a, b, c in zip(words, words[1:], words[2:], strict=False):
        if a["start"] == b["start"] == c["start"]:
            problems.append(f"three words at {a['start']}: {a['word']!r} {b['word']!r} {c['word']!r}")
    for a, b in itertools.pairwise(words):
        if b["start"] < a["start"] - 0.01:
            problems.append(f"word {b} starts before the word before it {a}")
        if words_of(a["word"]) == words_of(b["word"]) and abs(b["start"] - a["start"]) < 0.3:
            problems.append(f"the same word twice at one time: {a} {b}")
        # Inside the speech (not the silence at either end), no hole longer than a pause.
        if b["start"] - a["end"] > MAX_SILENT_GAP and a["end"] < speech.seconds:
            problems.append(f"{b['start'] - a['end']:.2f} s without a word between {a} and {b}: words lost?")
    if words[0]["start"] > speech.sentences[0][0] + MAX_SILENT_GAP:
        problems.append(f"the first word starts at {words[0]['start']}, the speech at {speech.sentences[0][0]:.2f}")
    if words[-1]["end"] < speech.sentences[-1][0]:
        problems.append(f"the last word ends at {words[-1]['end']}, before the last sentence began at {speech.sentences[-1][0]:.2f}")
    if words[-1]["end"] > duration + 0.1:
        problems.append(f"a word ends at {words[-1]['end']}, after the recording's {duration:.2f} s")
    return problems


_REPEAT = re.compile(r"\b(\w+(?:\s+\w+){2,})\s+\1\b")


def doubled_phrases(text: str, reference: str) -> list[str]:
    """Phrases of three words or more said twice in a row in `text` but not in `reference`: what
    a seam that hands the same audio to two windows leaves behind."""
    said = " ".join(words_of(reference))
    return [m.group(1) for m in _REPEAT.finditer(" ".join(words_of(text))) if f"{m.group(1)} {m.group(1)}" not in said]


def wer(reference: str, hypothesis: str) -> float:
    return word_error_rate(reference, hypothesis)


# --- live windows (read behind the API's back) ----------------------------------------------


@dataclass(frozen=True)
class Window:
    index: int
    start: float
    end: float
    status: str
    attempts: int
    segments: list[dict[str, Any]]


def live_rows(stack: Any, video_id: int) -> tuple[str | None, list[Window]]:
    """The video's live transcription status (None: the live path never started) and its
    windows, from the stack's database."""
    from tests.support import db_rows

    status = [row[0] for row in db_rows(stack, "SELECT status FROM transcripts_livetranscript WHERE video_id = %s", (video_id,))]
    rows = db_rows(
        stack,
        'SELECT "index", start, "end", status, attempts, segments FROM transcripts_livewindow WHERE video_id = %s ORDER BY "index"',
        (video_id,),
    )
    windows = [
        Window(int(i), float(a), float(b), str(s), int(n), json.loads(seg) if isinstance(seg, str) else list(seg or []))
        for i, a, b, s, n, seg in rows
    ]
    return (status[0] if status else None), windows


def window_problems(windows: list[Window], final: list[dict[str, Any]], *, duration: float) -> list[str]:
    """What is wrong at the seams: windows not done, not back to back from 0 to the end of the
    recording, a word outside the window it was heard in, or a final document that is not the
    windows' segments one after the other."""
    problems: list[str] = []
    if not windows:
        return ["no live windows"]
    if [w.index for w in windows] != list(range(len(windows))):
        problems.append(f"window indexes {[w.index for w in windows]}")
    problems += [f"window {w.index} is {w.status}" for w in windows if w.status != "done"]
    if abs(windows[0].start) > 0.01:
        problems.append(f"window 0 starts at {windows[0].start}")
    for a, b in itertools.pairwise(windows):
        if abs(a.end - b.start) > 0.01:
            problems.append(f"window {a.index} ends at {a.end}, window {b.index} starts at {b.start}")
    if abs(windows[-1].end - duration) > 1.5:
        problems.append(f"the last window ends at {windows[-1].end}, the recording at {duration}")
    for w in windows:
        for word in transcript_words(w.segments):
            if not w.start - 0.05 <= word["start"] <= word["end"] <= w.end + 0.05:
                problems.append(f"window {w.index} ({w.start}..{w.end}) holds {word}")
    merged = [s["text"].strip() for w in windows for s in w.segments if s["text"].strip()]
    if merged != [s["text"].strip() for s in final]:
        problems.append(f"the final segments are not the windows' in order:\n{merged}\n{[s['text'] for s in final]}")
    return problems
