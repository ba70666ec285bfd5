from pathlib import Path

import ninja
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import include, path
from django.views.static import serve

from recordplus.config.api import api
from recordplus.config import health

DOCS_ASSETS = Path(ninja.__file__).parent / "static" / "ninja"


def docs_asset(request: HttpRequest, path: str) -> HttpResponseBase:
    """The interactive docs' own assets (Swagger UI ships inside django-ninja): no CDN needed.

    Django's static `serve` answers with a FileResponse, a synchronous iterator that Django's
    ASGI handler warns about on every file. These files are small (a few MB at most) and cached
    by the browser, so they are sent whole; `serve` still does the path checks, 404 and 304.
    """
    response = serve(request, path, document_root=DOCS_ASSETS)
    if not response.streaming:
        return response
    try:
        whole = HttpResponse(b"".join(response.streaming_content), status=response.status_code)
        for header, value in response.items():
            whole[header] = value
    finally:
        response.close()
    return whole


urlpatterns = [
    path("api/", api.urls),
    path("healthz", health.healthz),
    path("static/ninja/<path:path>", docs_asset),
    # The web app (sign in, library, recorder, watch and shared pages) at the root; last, so
    # the API's own paths above always win.
    path("", include("recordplus.web.urls")),
]
if not settings.METRICS_PORT:
    # With METRICS_PORT set only the metrics listener (config/metrics_server.py) serves them, so
    # an ingress routing "/" to this port cannot reach the metrics or the readiness details.
    urlpatterns += [path("readyz", health.readyz), path("metrics", health.metrics)]
