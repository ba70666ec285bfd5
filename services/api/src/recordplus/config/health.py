"""Liveness, readiness and the Prometheus exposition of the API process."""

from __future__ import annotations

import os

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from recordplus.config.backlog import BacklogCollector
from recordplus.core import messaging
from recordplus.core.storage import get_store

_backlog = BacklogCollector()
_backlog_registry = CollectorRegistry(auto_describe=False)
_backlog_registry.register(_backlog)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Database, storage and broker are reachable; 503 naming what is not."""
    ready, checks = readiness()
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503)


def readiness() -> tuple[bool, dict[str, str]]:
    """Whether database, storage and broker all answer, and what each said (also served by
    the metrics listener, recordplus.config.metrics_server)."""
    checks: dict[str, str] = {}
    for name, probe in (("database", _ping_database), ("storage", lambda: get_store().ping()), ("broker", messaging.ping)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # report any failure as not ready, with its reason
            checks[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    return all(value == "ok" for value in checks.values()), checks


def _ping_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def exposition() -> bytes:
    """This process's metrics (merged across processes when PROMETHEUS_MULTIPROC_DIR is set)
    plus the backlog gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        own = generate_latest(registry)
    else:
        own = generate_latest(REGISTRY)
    return own + generate_latest(_backlog_registry)


def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
