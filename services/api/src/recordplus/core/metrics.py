"""Every Prometheus metric RecordPlus exports, in one place.

Names are prefixed `recordplus_` and use base units. When PROMETHEUS_MULTIPROC_DIR is set
(several server or worker processes), prometheus-client writes per-process files and the
exposition merges them; gauges computed from the database are collected at scrape time and
are the same in every process.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_JOB_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)

# --- API ---------------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "recordplus_http_requests_total",
    "HTTP requests handled by the API, by route, method and status code.",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "recordplus_http_request_duration_seconds",
    "Time to produce an HTTP response, by route and method.",
    ["route", "method"],
    buckets=_DURATION_BUCKETS,
)
UPLOAD_BYTES = Counter("recordplus_upload_bytes_total", "Bytes of video chunks stored.")
UPLOAD_CHUNKS = Counter("recordplus_upload_chunks_total", "Video chunks stored (re-sends not counted).")
UPLOAD_REJECTED = Counter(
    "recordplus_upload_rejected_total",
    "Chunk or finalize requests refused, by reason.",
    ["reason"],
)

# --- pipeline (workers) ------------------------------------------------------------------
JOBS_STARTED = Counter("recordplus_jobs_started_total", "Pipeline jobs started, by queue.", ["queue"])
JOBS_FINISHED = Counter(
    "recordplus_jobs_finished_total",
    "Pipeline jobs finished, by queue and outcome (done, failed, retry).",
    ["queue", "outcome"],
)
JOBS_RUNNING = Gauge(
    "recordplus_jobs_running",
    "Pipeline jobs running in this worker process, by queue.",
    ["queue"],
    multiprocess_mode="livesum",
)
ASSEMBLY_DURATION = Histogram(
    "recordplus_assembly_duration_seconds",
    "Wall time from picking up an assemble job to the video being ready.",
    buckets=_JOB_BUCKETS,
)
ASSEMBLED_BYTES = Counter("recordplus_assembled_bytes_total", "Bytes of stitched video written.")
PIPELINE_FAILURES = Counter(
    "recordplus_pipeline_failures_total",
    "Pipeline jobs that ended failed, by stage and reason.",
    ["stage", "reason"],
)
TRANSCRIPTION_DURATION = Histogram(
    "recordplus_transcription_duration_seconds",
    "Wall time of one transcription job, by engine and model.",
    ["engine", "model"],
    buckets=_JOB_BUCKETS,
)
TRANSCRIBED_AUDIO_SECONDS = Counter(
    "recordplus_transcribed_audio_seconds_total",
    "Seconds of audio transcribed, by engine and model.",
    ["engine", "model"],
)
TRANSCRIPTION_WALL_SECONDS = Counter(
    "recordplus_transcription_wall_seconds_total",
    "Wall seconds spent transcribing, by engine and model.",
    ["engine", "model"],
)
TRANSCRIPTION_SPEED = Gauge(
    "recordplus_transcription_speed_ratio",
    "Audio seconds per wall second of the last finished transcription, by engine and model.",
    ["engine", "model"],
    multiprocess_mode="mostrecent",
)

# Backlog gauges (recordplus_queue_backlog_jobs{queue,state},
# recordplus_transcription_backlog_audio_seconds, recordplus_uploads_in_progress,
# recordplus_broker_queue_messages{queue}) are computed from the database and broker at scrape
# time by recordplus.core.backlog.BacklogCollector.
BACKLOG_METRIC_NAMES = (
    "recordplus_queue_backlog_jobs",
    "recordplus_transcription_backlog_audio_seconds",
    "recordplus_uploads_in_progress",
    "recordplus_broker_queue_messages",
)
