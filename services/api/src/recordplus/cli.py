"""The `recordplus` command: serve the API (with in-process workers when embedded), run a
worker, migrate, create users, reconcile, or any Django management command.

Settings come from the environment, and from `./.env` (or `--env-file PATH`) for variables the
environment leaves unset or empty. A bad setting ends any subcommand with one line on stderr
naming the variable, and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

# Before anything imports numpy: OpenBLAS's own thread pool deadlocks when two Python threads
# call into it at once (numpy/numpy#17752, OpenMathLib/OpenBLAS#660: a worker froze for good in
# faster-whisper's feature extractor). Its matmuls here are small; the engines bring their own
# threads (WHISPER_CPU_THREADS). An explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from recordplus.core.env import ImproperlyConfiguredEnv, envstr, load_env_file

logger = logging.getLogger("recordplus")

# Exit code of a command that cannot run as configured (like argparse's usage errors).
EXIT_MISCONFIGURED = 2
DEFAULT_ENV_FILE = ".env"


def _setup(data_dir: str | None = None, host: str | None = None) -> Any:
    # Recordings are private: what this process creates (the data folder, the SQLite database,
    # stored objects, chunks, scratch folders, ffmpeg's outputs) is its user's alone, 0600/0700.
    os.umask(0o077)
    if data_dir:
        os.environ["RECORDPLUS_DATA_DIR"] = str(Path(data_dir).resolve())
    if host:
        os.environ["RECORDPLUS_BIND_HOST"] = host
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recordplus.config.settings")
    import django
    from django.conf import settings

    django.setup()
    from recordplus.core.ffmpeg import Limits

    Limits.from_env()  # read at first use otherwise: fail now, not in the middle of a job
    if settings.EMBEDDED:
        # Made 0700 by the umask; a folder that already exists is the user's choice, only named.
        settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
        if settings.DATA_DIR.stat().st_mode & 0o077:
            logger.warning("%s is readable by other users (chmod 700 it to keep recordings private)", settings.DATA_DIR)
    return settings


def _load_actors() -> list[str]:
    """Import the installed worker apps' actors; returns the queues they serve."""
    from django.conf import settings

    from recordplus.core import messaging

    messaging.get_broker()
    loaded = []
    for app in settings.WORKER_APPS:
        if importlib.util.find_spec(f"{app}.tasks") is not None:
            importlib.import_module(f"{app}.tasks")
            loaded.append(app)
    broker = messaging.get_broker()
    return sorted({actor.queue_name for actor in (broker.get_actor(n) for n in broker.get_declared_actors())})


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


class _Workers:
    """One Dramatiq worker per queue, stopped together: a queue's threads never wait behind
    another queue's messages (embedded mode's assembly queued behind live window
    transcription made stop → ready slower on the live path)."""

    def __init__(self, workers: list[Any]) -> None:
        self.workers = workers

    def stop(self, timeout: int) -> None:
        for worker in self.workers:
            worker.stop(timeout=timeout)


def _start_worker(queues: list[str] | None, threads: int) -> _Workers:
    from dramatiq import Worker

    from recordplus.core import messaging
    from recordplus.core.tempdirs import sweep_stale_workdirs

    sweep_stale_workdirs()  # scratch folders of workers killed before they could clean up
    broker = messaging.get_broker()
    workers = []
    for queue in sorted(set(queues or messaging.QUEUES)):
        worker = Worker(broker, queues={queue}, worker_threads=threads)
        worker.start()
        workers.append(worker)
    return _Workers(workers)


def _reconcile_loop(stop: threading.Event, interval: float, stale: float) -> None:
    from django.db import close_old_connections

    while not stop.wait(interval):
        try:
            _reconcile(stale)
        except Exception:
            logger.warning("reconciler pass failed", exc_info=True)
        finally:
            close_old_connections()


def _reconcile(stale: float | None) -> None:
    from recordplus.transcripts.services import transcript_reconcile
    from recordplus.videos.services import video_reconcile

    from recordplus.videos.services import video_expire_idle

    video_reconcile(stale_seconds=stale)
    transcript_reconcile(stale_seconds=stale)
    from recordplus.transcripts.live_services import live_reconcile

    live_reconcile(stale_seconds=stale)  # live decode steps and windows (issue 11)
    video_expire_idle()  # idle unfinished uploads (UPLOAD_EXPIRY_SECONDS)


def _share_metrics_between_workers() -> Path | None:
    """Each uvicorn worker process counts the requests it answers; without a folder they share,
    /metrics (on the metrics port, in this process, or on the public port, in whichever worker
    the scrape reaches) showed one process's share or none. The folder is this run's own
    (PROMETHEUS_MULTIPROC_DIR, read by the workers as they start); an operator's setting wins.
    Returns the folder to remove at exit, or None when the operator's is used."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from recordplus.core.tempdirs import make_workdir

    folder = make_workdir("recordplus-metrics-", label="serve")  # swept like scratch folders if killed
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _setup(args.data_dir, args.host)
    workers = args.workers
    if workers > 1 and settings.EMBEDDED:
        print("recordplus serve: --workers needs cluster mode (embedded runs its workers in-process on SQLite)", file=sys.stderr)
        return EXIT_MISCONFIGURED
    import uvicorn

    from recordplus.core.storage import get_store

    worker = None
    if settings.EMBEDDED:
        _migrate()
        queues = _load_actors()
        worker = _start_worker(None, settings.WORKER_THREADS)
        _reconcile(None)  # the in-memory broker forgot everything: pick up unfinished work
        logger.info("embedded mode: data in %s, in-process workers for %s", settings.DATA_DIR, queues)
        if settings.ALLOW_ANONYMOUS:
            shown_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
            base = settings.PUBLIC_URL or f"http://{shown_host}:{args.port}"
            # Like Jupyter's token URL: what to paste as the extension's base URL.
            print(f"RecordPlus upload URL for the browser extension: {_local_upload_url(settings, base)}", flush=True)
    get_store().ensure_ready()
    metrics_listener = None
    if settings.METRICS_PORT:
        from recordplus.config import metrics_server

        metrics_listener = metrics_server.start(args.host, settings.METRICS_PORT, public_port=args.port)
    stop = threading.Event()
    threading.Thread(
        target=_reconcile_loop, args=(stop, 60.0, settings.RECONCILE_STALE_SECONDS), daemon=True, name="reconciler"
    ).start()
    from recordplus.config.asgi import application
    from recordplus.core.http_timeouts import header_timeout_protocol

    shared_metrics = None
    if workers > 1:
        shared_metrics = _share_metrics_between_workers()
        # uvicorn spawns its worker processes and imports the app and the protocol by name there.
        app_and_protocol: dict[str, Any] = {"app": "recordplus.config.asgi:application", "workers": workers,
                                            "http": "recordplus.cli:HeaderTimeoutProtocol"}  # fmt: skip
        logger.info("serving with %s worker processes (metrics shared in %s)", workers,
                    os.environ["PROMETHEUS_MULTIPROC_DIR"])  # fmt: skip
    else:
        app_and_protocol = {"app": application, "http": header_timeout_protocol(settings.HTTP_HEADER_TIMEOUT_SECONDS)}
    try:
        uvicorn.run(
            host=args.host,
            port=args.port,
            # Slow clients are dropped: headers within HTTP_HEADER_TIMEOUT_SECONDS (the body's
            # deadline, HTTP_BODY_TIMEOUT_SECONDS, is kept by the application itself).
            **app_and_protocol,
            log_level=settings.LOG_LEVEL,
            proxy_headers=True,
            forwarded_allow_ips=envstr("FORWARDED_ALLOW_IPS", "127.0.0.1"),
            timeout_graceful_shutdown=30,
            # Django's ASGI handler has no lifespan events; "off" spares the warning at each start.
            lifespan="off",
        )
    finally:
        stop.set()
        if metrics_listener is not None:
            metrics_listener.shutdown()
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)
        if worker is not None:
            worker.stop(timeout=10_000)
    return 0


def __getattr__(name: str) -> Any:
    """`HeaderTimeoutProtocol`: what `serve --workers N` names for uvicorn's worker processes,
    built in each of them from its settings (a class made at run time cannot be sent there)."""
    if name == "HeaderTimeoutProtocol":
        from django.conf import settings

        from recordplus.core.http_timeouts import header_timeout_protocol

        return header_timeout_protocol(settings.HTTP_HEADER_TIMEOUT_SECONDS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _local_upload_url(settings: Any, base_url: str) -> str:
    from recordplus.accounts.services import local_upload_secret, upload_url_for_base

    return upload_url_for_base(base_url, local_upload_secret(secret_file=settings.DATA_DIR / "upload-url.secret"))


def cmd_upload_url(args: argparse.Namespace) -> int:
    settings = _setup(args.data_dir)
    _migrate_if_embedded()
    from django.contrib.auth import get_user_model

    from recordplus.accounts.services import upload_url_create, upload_url_for_base, upload_url_rotate

    base = args.base_url or settings.PUBLIC_URL or "http://127.0.0.1:8000"
    if args.username is None:
        if not settings.EMBEDDED:
            print("recordplus upload-url: name the user in cluster mode (recordplus upload-url USER)", file=sys.stderr)
            return 2
        if args.rotate:
            from recordplus.accounts.services import local_upload_secret

            secret_file = settings.DATA_DIR / "upload-url.secret"
            upload_url_rotate(user=None)
            secret_file.unlink(missing_ok=True)
            print(upload_url_for_base(base, local_upload_secret(secret_file=secret_file)))
            return 0
        print(_local_upload_url(settings, base))
        return 0
    user = get_user_model().objects.filter(username=args.username).first()
    if user is None:
        print(f"recordplus upload-url: no user {args.username!r} (create one with recordplus createuser)", file=sys.stderr)
        return 2
    make = upload_url_rotate if args.rotate else upload_url_create
    _, secret = make(user=user, name=args.name)
    print(upload_url_for_base(base, secret))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    settings = _setup()
    from prometheus_client import start_http_server

    from recordplus.core.storage import get_store

    available = _load_actors()
    unknown = [q for q in args.queues if q not in available]
    if unknown:
        print(f"recordplus worker: no installed actor serves queue(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    get_store().ensure_ready()
    port = args.metrics_port if args.metrics_port is not None else settings.WORKER_METRICS_PORT
    if port:
        start_http_server(port)
    worker = _start_worker(args.queues, args.threads or settings.WORKER_THREADS)
    logger.info("worker consuming %s (metrics on :%s)", args.queues, port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    logger.info("worker stopping: finishing running messages")
    worker.stop(timeout=args.shutdown_timeout * 1000)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management import call_command

    from recordplus.core.storage import get_store

    call_command("migrate", interactive=False)
    get_store().ensure_ready()
    return 0


def cmd_createuser(args: argparse.Namespace) -> int:
    _setup(args.data_dir)
    _migrate_if_embedded()
    from recordplus.accounts.services import user_create_with_token, user_set_password
    from recordplus.core.errors import BadRequest

    password = _read_password(args)
    user, token = user_create_with_token(username=args.username, token_name=args.token_name)
    if password is not None:
        try:
            user_set_password(user=user, password=password)
        except BadRequest as exc:
            print(f"recordplus createuser: {exc.message}", file=sys.stderr)
            return EXIT_MISCONFIGURED
        print(f"password set: {args.username} can sign in to the web app", file=sys.stderr)
    print(token)
    return 0


def _read_password(args: argparse.Namespace) -> str | None:
    """The web app password asked for: the first line of stdin, or typed twice at a prompt."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not args.password:
        return None
    import getpass

    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise SystemExit("recordplus createuser: the passwords do not match")
    return first


def _migrate_if_embedded() -> None:
    from django.conf import settings

    if settings.EMBEDDED:
        _migrate()


def cmd_reconcile(args: argparse.Namespace) -> int:
    settings = _setup()
    _reconcile(args.stale_seconds if args.stale_seconds is not None else settings.RECONCILE_STALE_SECONDS)
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["recordplus manage", *args.rest])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="recordplus", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    env_file_help = "read settings the environment leaves unset from this file (default ./.env, if present)"
    parser.add_argument("--env-file", default=None, metavar="PATH", help=env_file_help)
    # Also accepted after the subcommand (`recordplus serve --env-file prod.env`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--env-file", default=argparse.SUPPRESS, metavar="PATH", help=env_file_help)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="run the API (and, embedded, the workers) in this process")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--data-dir", default=None, help="embedded mode's data folder (default ./var)")
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes on one port (cluster mode; default 1)")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", parents=[common], help="run a Dramatiq worker for the named queues")
    worker.add_argument("--queues", nargs="+", required=True, help="assemble and/or transcribe")
    worker.add_argument("--threads", type=int, default=None, help="worker threads (default WORKER_THREADS)")
    worker.add_argument("--metrics-port", type=int, default=None, help="0 disables (default WORKER_METRICS_PORT)")
    worker.add_argument("--shutdown-timeout", type=int, default=600, help="seconds to let running jobs finish")
    worker.set_defaults(func=cmd_worker)

    sub.add_parser("migrate", parents=[common], help="apply database migrations").set_defaults(func=cmd_migrate)

    createuser = sub.add_parser("createuser", parents=[common], help="create a user and print a new API token (--password: also a web app password)")
    createuser.add_argument("username")
    createuser.add_argument("--token-name", default="")
    createuser.add_argument("--password", action="store_true", help="ask for a web app password (typed twice)")
    createuser.add_argument("--password-stdin", action="store_true", help="read the web app password from stdin's first line")
    createuser.add_argument("--data-dir", default=None)
    createuser.set_defaults(func=cmd_createuser)

    upload_url = sub.add_parser(
        "upload-url", parents=[common], help="print a personal upload URL (the browser extension's base URL)"
    )
    upload_url.add_argument("username", nargs="?", default=None, help="whose (embedded default: the local owner)")
    upload_url.add_argument("--base-url", default=None, help="where users reach the server (default PUBLIC_URL)")
    upload_url.add_argument("--rotate", action="store_true", help="revoke the owner's upload URLs and make a new one")
    upload_url.add_argument("--name", default="", help="a label for a user's new URL")
    upload_url.add_argument("--data-dir", default=None)
    upload_url.set_defaults(func=cmd_upload_url)

    reconcile = sub.add_parser("reconcile", parents=[common], help="re-enqueue unfinished work the broker may have lost")
    reconcile.add_argument("--stale-seconds", type=float, default=None)
    reconcile.set_defaults(func=cmd_reconcile)

    manage = sub.add_parser("manage", help="run a Django management command")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


def _read_env_file(path: str | None) -> None:
    """`--env-file PATH` must exist; `./.env` is read when present."""
    if path is None:
        if not Path(DEFAULT_ENV_FILE).is_file():
            return
        path = DEFAULT_ENV_FILE
    elif not Path(path).is_file():
        raise ImproperlyConfiguredEnv(f"--env-file {path!r}: no such file")
    load_env_file(Path(path))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def main(argv: list[str] | None = None) -> int:
    from django.core.exceptions import ImproperlyConfigured

    args = build_parser().parse_args(argv)
    try:
        _read_env_file(args.env_file)
        return int(args.func(args) or 0)
    except (ImproperlyConfiguredEnv, ImproperlyConfigured) as exc:
        # A setting, not a bug: the user needs the variable and what it accepts, not a traceback.
        print(f"recordplus: {_one_line(exc)}", file=sys.stderr, flush=True)
        return EXIT_MISCONFIGURED


if __name__ == "__main__":
    sys.exit(main())
