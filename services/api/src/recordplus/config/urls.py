from django.urls import path

from recordplus.config.api import api
from recordplus.core import health

urlpatterns = [
    path("api/", api.urls),
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("metrics", health.metrics),
]
