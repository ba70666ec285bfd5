"""Errors the transcriber raises on purpose. Plain module: no Django, no Dramatiq.

`permanent` errors are never worth retrying (bad configuration, missing model, unreadable
audio); anything else that escapes a job is treated as transient and retried. `reason` is a
short, stable slug used as the `reason` label of recordplus_pipeline_failures_total.
"""

from __future__ import annotations

from recordplus.core.errors import RecordPlusError


class TranscriberError(RecordPlusError):
    """Base of the transcriber's errors; the message is what the user sees on the transcript."""

    reason: str = "error"
    permanent: bool = True


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


class SourceMissing(TranscriberError):
    """The video has neither extracted audio nor a video object to extract it from (yet)."""

    reason = "source_missing"
    # The assembler may still be writing it; give it the normal retries.
    permanent = False
