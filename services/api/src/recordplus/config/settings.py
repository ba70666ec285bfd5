"""The one settings module. Every value comes from the environment; README lists them all.

Defaults run with no setup: the embedded mode (SQLite, files under RECORDPLUS_DATA_DIR,
the in-process broker). RECORDPLUS_MODE=cluster switches the defaults to PostgreSQL, S3 and
RabbitMQ, which are then configured by DATABASE_URL, S3_* and BROKER_URL.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dj_database_url

from recordplus.core.env import (
    ImproperlyConfiguredEnv,
    envbool,
    envchoice,
    envfloat,
    envint,
    envlist,
    envstr,
)

MODE = envchoice("RECORDPLUS_MODE", "embedded", ("embedded", "cluster"))
EMBEDDED = MODE == "embedded"

DATA_DIR = Path(envstr("RECORDPLUS_DATA_DIR", "./var")).resolve()
# The address `recordplus serve` binds; anonymous access defaults on only for loopback.
# config/asgi.py and wsgi.py set "unknown" when another server (uvicorn, gunicorn) runs the app.
BIND_HOST = envstr("RECORDPLUS_BIND_HOST", "127.0.0.1")
_LOOPBACK = BIND_HOST in {"127.0.0.1", "localhost", "::1"} or BIND_HOST.startswith("127.")

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envstr("SECRET_KEY", "")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfiguredEnv("SECRET_KEY must be set in cluster mode")
    SECRET_KEY = "recordplus-embedded-not-secret"  # noqa: S105 - local single-user default
# Bound to loopback, only loopback names are served: a web page that rebinds its own DNS name to
# 127.0.0.1 (DNS rebinding) then gets 400 instead of the local recordings.
_LOOPBACK_NAMES = "127.0.0.1,localhost,[::1],::1"
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", _LOOPBACK_NAMES if _LOOPBACK else "*")
# Where users reach this server (printed in upload URLs by `recordplus upload-url`); the
# embedded `serve` uses the address it binds when this is empty.
PUBLIC_URL = envstr("PUBLIC_URL", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",  # the web app's sign-in (recordplus.web)
    "django.contrib.staticfiles",
    "corsheaders",
    "ninja",  # its templates and bundled Swagger UI: the docs work offline
    "recordplus.accounts",
    "recordplus.videos",
    "recordplus.transcripts",
    "recordplus.sharing",
    "recordplus.web",
]
# Worker apps are present when their package is installed (the API image has neither);
# the API itself never imports them, it only sends messages by actor name.
WORKER_APPS = [
    app
    for app in ("recordplus.assembler", "recordplus.transcriber")
    if importlib.util.find_spec(app) is not None
]
INSTALLED_APPS += WORKER_APPS

MIDDLEWARE = [
    "recordplus.core.middleware.metrics_middleware",
    "recordplus.core.middleware.api_errors",
    "recordplus.accounts.upload_urls.upload_urls",
    "recordplus.core.rate_limit.rate_limit",
    "recordplus.core.middleware.legacy_paths",
    "recordplus.videos.media_links.signed_media",
    "corsheaders.middleware.CorsMiddleware",
    "recordplus.core.middleware.cross_origin_guard",
    "django.middleware.common.CommonMiddleware",
    # The web app's sessions. Ninja's views are CSRF-exempt (tokens, upload URLs and the
    # extension send none); a session used on the API is CSRF-checked by accounts.auth instead.
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "recordplus.config.urls"
STATIC_URL = "/static/"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
ASGI_APPLICATION = "recordplus.config.asgi.application"
APPEND_SLASH = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_default_db = f"sqlite:///{DATA_DIR / 'recordplus.sqlite3'}" if EMBEDDED else ""
DATABASE_URL = envstr("DATABASE_URL", _default_db)
if not DATABASE_URL:
    raise ImproperlyConfiguredEnv("DATABASE_URL must be set in cluster mode")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0))}
except ValueError as exc:
    raise ImproperlyConfiguredEnv(
        f"DATABASE_URL is not a database URL ({exc}); use postgres://user:pass@host:5432/db or sqlite:////path/db.sqlite3"
    ) from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Chunk uploads write concurrently with the in-process workers: wait for the lock
    # instead of failing, and use WAL so readers never block the writer. synchronous=FULL:
    # in WAL mode NORMAL may lose the last commits on a power loss (a chunk answered 200 would
    # vanish); FULL syncs the WAL at every commit.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
    }

# --- storage -----------------------------------------------------------------------------
STORAGE_BACKEND = envchoice("STORAGE_BACKEND", "filesystem" if EMBEDDED else "s3", ("filesystem", "s3"))
MEDIA_ROOT = str(DATA_DIR / "media")
S3_BUCKET = envstr("S3_BUCKET", "recordplus")
S3_ENDPOINT_URL = envstr("S3_ENDPOINT_URL", "")
S3_PUBLIC_ENDPOINT_URL = envstr("S3_PUBLIC_ENDPOINT_URL", "")
S3_REGION = envstr("S3_REGION", "us-east-1")
S3_ACCESS_KEY_ID = envstr("S3_ACCESS_KEY_ID", "")
S3_SECRET_ACCESS_KEY = envstr("S3_SECRET_ACCESS_KEY", "")
S3_ADDRESSING_STYLE = envchoice("S3_ADDRESSING_STYLE", "path", ("path", "virtual", "auto"))
S3_PRESIGN_SECONDS = envint("S3_PRESIGN_SECONDS", 300, minimum=1)
S3_CREATE_BUCKET = envbool("S3_CREATE_BUCKET", False)

# Objects go through recordplus.core.storage (one ObjectStore chosen from STORAGE_BACKEND), not
# through Django's file storage API. Only the docs' assets are static; they are served from
# django-ninja's package (config/urls.py).
STORAGES = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

# How stream_video serves S3 objects: a 302 to a presigned URL, or proxied through the API.
STREAM_MODE = envchoice("STREAM_MODE", "redirect", ("redirect", "proxy"))
# Signed media URLs (videos.media_links) are keyed from MEDIA_URL_SECRET, else from SECRET_KEY as
# configured; with neither (embedded), from a random secret kept in DATA_DIR/media-url.secret.
# Each stays valid MEDIA_URL_TTL_SECONDS from the response that carried it.
MEDIA_URL_SECRET = envstr("MEDIA_URL_SECRET", "") or envstr("SECRET_KEY", "")
MEDIA_URL_TTL_SECONDS = envint("MEDIA_URL_TTL_SECONDS", 3600, minimum=1)

# --- broker ------------------------------------------------------------------------------
BROKER_URL = envstr("BROKER_URL", "memory://" if EMBEDDED else "")
if not BROKER_URL:
    raise ImproperlyConfiguredEnv("BROKER_URL must be set in cluster mode (amqp://user:pass@host:5672/vhost)")
if not (BROKER_URL.startswith("memory://") or BROKER_URL.startswith(("amqp://", "amqps://"))):
    raise ImproperlyConfiguredEnv(f"BROKER_URL={BROKER_URL!r} must be memory:// or amqp(s)://")
WORKER_THREADS = envint("WORKER_THREADS", 2, minimum=1)
WORKER_METRICS_PORT = envint("WORKER_METRICS_PORT", 9191, minimum=0)
# `recordplus serve`: a second listener for /metrics and /readyz, which the public port then
# answers 404 (keeps them off an ingress that routes "/"); 0 serves them on the public port.
METRICS_PORT = envint("METRICS_PORT", 0, minimum=0)
if METRICS_PORT > 65535:
    raise ImproperlyConfiguredEnv(f"METRICS_PORT={METRICS_PORT} is not a TCP port; use 1-65535, or 0 for none")
# Claims of one video's assembly before it is failed (a job that kills its worker counts too).
ASSEMBLE_MAX_ATTEMPTS = envint("ASSEMBLE_MAX_ATTEMPTS", 6, minimum=1)
# Videos left `assembling` longer than this without a result are re-enqueued by the reconciler.
RECONCILE_STALE_SECONDS = envint("RECONCILE_STALE_SECONDS", 900, minimum=10)

# --- uploads -----------------------------------------------------------------------------
MAX_CHUNK_BYTES = envint("MAX_CHUNK_BYTES", 64 * 1024 * 1024, minimum=1)
# Chunks per video; 10,000 is also S3's limit on the parts of one multipart upload.
MAX_CHUNKS = envint("MAX_CHUNKS", 10_000, minimum=1)
# Django spools request bodies larger than this to disk rather than memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = None  # chunk size is enforced by MAX_CHUNK_BYTES instead
# The lean ASGI route for raw chunk uploads and streaming (videos.hot_paths), ahead of Django;
# false sends every request through Django. Its sync work runs on HOT_PATH_THREADS threads.
HOT_PATHS = envbool("HOT_PATHS", True)
HOT_PATH_THREADS = envint("HOT_PATH_THREADS", 4, minimum=1)
# Finalize waits up to this long for chunk requests that are still being received.
FINALIZE_SETTLE_SECONDS = envfloat("FINALIZE_SETTLE_SECONDS", 3.0, minimum=0)

# --- limits and quotas (README: "Limits and quotas") ---------------------------------------
# Unfinished uploads idle this long become `expired` (chunks removed); 0 = never.
UPLOAD_EXPIRY_SECONDS = envint("UPLOAD_EXPIRY_SECONDS", 24 * 60 * 60, minimum=0)
# Per user (anonymous callers share one pool); 0 = no limit.
QUOTA_OPEN_VIDEOS = envint("QUOTA_OPEN_VIDEOS", 500, minimum=0)
QUOTA_BYTES = envint("QUOTA_BYTES", 0 if EMBEDDED else 100 * 1024**3, minimum=0)
# Per token, upload URL or (anonymous) client address, per API process; 0 = no limit.
RATE_LIMIT_REQUESTS_PER_MINUTE = envint("RATE_LIMIT_REQUESTS_PER_MINUTE", 0 if EMBEDDED else 6000, minimum=0)
# Assemblies (and transcriptions) of one user running at once; others wait their turn.
MAX_CONCURRENT_JOBS_PER_USER = envint("MAX_CONCURRENT_JOBS_PER_USER", 2, minimum=0)
# A claimed assembly's lease, renewed every third of it while the worker lives; a worker that
# died is taken over once it runs out.
ASSEMBLE_LEASE_SECONDS = envint("ASSEMBLE_LEASE_SECONDS", 60, minimum=3)

# --- live transcription (issue 11; transcripts.live_services) ------------------------------
# Uploads that send chunk_index are decoded and transcribed window by window while they arrive.
LIVE_TRANSCRIPTION = envbool("LIVE_TRANSCRIPTION", True)
# A window closes at the first pause of LIVE_PAUSE_SECONDS once it is LIVE_WINDOW_MIN_SECONDS
# long, or at the quietest moment near LIVE_WINDOW_MAX_SECONDS when nobody paused.
LIVE_WINDOW_MIN_SECONDS = envfloat("LIVE_WINDOW_MIN_SECONDS", 16.0, minimum=1.0)
LIVE_WINDOW_MAX_SECONDS = envfloat("LIVE_WINDOW_MAX_SECONDS", 30.0, minimum=2.0)
if LIVE_WINDOW_MAX_SECONDS <= LIVE_WINDOW_MIN_SECONDS:
    raise ImproperlyConfiguredEnv("LIVE_WINDOW_MAX_SECONDS must be larger than LIVE_WINDOW_MIN_SECONDS")
LIVE_PAUSE_SECONDS = envfloat("LIVE_PAUSE_SECONDS", 0.3, minimum=0.02)
# At most one decode step per upload this often (core.live_trigger): chunks that land
# meanwhile are read together by the next one. 0: a step after every chunk.
LIVE_DECODE_INTERVAL_SECONDS = envfloat("LIVE_DECODE_INTERVAL_SECONDS", 2.0, minimum=0.0)
# A decode step's or a window's lease (renewed while its worker lives); tries of one window.
LIVE_LEASE_SECONDS = envint("LIVE_LEASE_SECONDS", 120, minimum=5)
LIVE_MAX_ATTEMPTS = envint("LIVE_MAX_ATTEMPTS", 3, minimum=1)
# A transcriber whose engine decodes in batches (WhisperX) takes up to this many waiting live
# windows, of any recordings, in one call; 1: one window a call.
LIVE_BATCH_WINDOWS = envint("LIVE_BATCH_WINDOWS", 8, minimum=1)
# The open window's provisional caption: a cheap engine pass at most once per this many
# seconds of new open-window audio (0: no provisional text, the event's text stays empty).
# Off in the embedded server: on a laptop's CPU each draft costs half a window's transcription
# (Whisper pads every call to 30 s), 1.8x the whole-file path's CPU in all; a cluster's GPU
# transcriber has the headroom.
LIVE_PROVISIONAL_SECONDS = envfloat("LIVE_PROVISIONAL_SECONDS", 0.0 if EMBEDDED else 6.0, minimum=0.0)
# GET videos/N/transcript/live: a keep-alive comment at least this often.
LIVE_KEEPALIVE_SECONDS = envfloat("LIVE_KEEPALIVE_SECONDS", 15.0, minimum=1.0)

# --- slow clients (core.http_timeouts) -------------------------------------------------------
# A request's headers must be complete this long after its connection opened (or after the
# previous response on it); `recordplus serve` then answers 408 and closes the connection.
HTTP_HEADER_TIMEOUT_SECONDS = envfloat("HTTP_HEADER_TIMEOUT_SECONDS", 20.0, minimum=0.1)
# The longest wait for the next piece of a request body before 408 and close; 0 = no limit.
HTTP_BODY_TIMEOUT_SECONDS = envfloat("HTTP_BODY_TIMEOUT_SECONDS", 60.0, minimum=0)

# --- access ------------------------------------------------------------------------------
ALLOW_ANONYMOUS = envbool("ALLOW_ANONYMOUS", EMBEDDED and _LOOPBACK)
# ALLOW_ANONYMOUS unset and the app run by a server that does not say where it binds (a plain
# `uvicorn ... --host 0.0.0.0`): each request decides, anonymous only on a loopback socket with
# a loopback Host (core.anonymous); anything else fails closed.
ANONYMOUS_ON_LOOPBACK_SOCKET = EMBEDDED and BIND_HOST == "unknown" and not envstr("ALLOW_ANONYMOUS", "")
CORS_ALLOWED_ORIGIN_REGEXES = envlist("CORS_ALLOWED_ORIGIN_REGEXES", r"^chrome-extension://[a-p]{32}$")
CORS_ALLOWED_ORIGINS = envlist("CORS_ALLOWED_ORIGINS", "")
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "range",
    "if-range",
    "x-requested-with",
)
CORS_EXPOSE_HEADERS = ("content-range", "accept-ranges", "content-length", "etag", "x-next-cursor", "link")

# --- web app (recordplus.web) ------------------------------------------------------------
LOGIN_URL = "web:login"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=60)
# Behind TLS (PUBLIC_URL https://…) the cookies are only sent over HTTPS.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", PUBLIC_URL.startswith("https://"))
SESSION_COOKIE_SAMESITE = CSRF_COOKIE_SAMESITE = "Lax"
# The origin users reach (behind an ingress whose Host differs) may post the web app's forms.
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "/".join(PUBLIC_URL.split("/")[:3]) if PUBLIC_URL else "")

# --- logging -----------------------------------------------------------------------------
LOG_LEVEL = envchoice("LOG_LEVEL", "info", ("debug", "info", "warning", "error"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL.upper()},
    "loggers": {"pika": {"level": "WARNING"}, "botocore": {"level": "WARNING"}},
}
