from pathlib import Path

import ninja
from django.urls import path
from django.views.static import serve

from recordplus.config.api import api
from recordplus.config import health

urlpatterns = [
    path("api/", api.urls),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", health.metrics),
    # The interactive docs' own assets (Swagger UI ships inside django-ninja): no CDN needed.
    path("static/ninja/<path:path>", serve, {"document_root": Path(ninja.__file__).parent / "static" / "ninja"}),
]
