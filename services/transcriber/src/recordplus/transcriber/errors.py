"""Errors the transcriber raises on purpose. Plain module: no Django, no Dramatiq.

They are `RecordPlusError`s like every other: `permanent` says whether retrying can help and
`reason` is the slug of recordplus_pipeline_failures_total's `reason` label; the retry rule
that reads them is `recordplus.core.jobs`'. The message is what the user sees on the
transcript.
"""

from __future__ import annotations

from recordplus.core.errors import RecordPlusError


class TranscriberError(RecordPlusError):
    """Base of the transcriber's errors; permanent unless a subclass says otherwise."""

    reason = "error"


class ConfigurationError(TranscriberError):
    """A TRANSCRIBE_*/WHISPER_*/ALIGN_* setting cannot be used (unknown engine, missing token…)."""

    reason = "config"


class EngineUnavailable(TranscriberError):
    """The requested engine is not installed in this image (e.g. WhisperX without the extra)."""

    reason = "engine_unavailable"


class ModelUnavailable(TranscriberError):
    """A Whisper, alignment or diarization model is not on local disk (nothing is downloaded)."""

    reason = "model_unavailable"


class AudioError(TranscriberError):
    """The audio cannot be decoded or has an unusable format."""

    reason = "audio"


class NoAudioStream(AudioError):
    """The media file has no audio track at all (a silent screen recording: the job turns it
    into an empty transcript, not a failure)."""

    reason = "no_audio"


class SourceMissing(TranscriberError):
    """The video has neither extracted audio nor a video object to extract it from (yet)."""

    reason = "source_missing"
    # The assembler may still be writing it; give it the normal retries.
    permanent = False


class TranscriptionTimedOut(TranscriberError):
    """The job ran past TRANSCRIBE_TIME_LIMIT and Dramatiq interrupted it: retried like any
    transient failure (a busier node, a longer recording than usual), until the attempts run
    out. Names the setting so the message says what to raise."""

    reason = "time_limit"
    permanent = False

    def __init__(self, limit_seconds: int) -> None:
        super().__init__(f"transcription took longer than TRANSCRIBE_TIME_LIMIT ({limit_seconds} s)")
        self.limit_seconds = limit_seconds
