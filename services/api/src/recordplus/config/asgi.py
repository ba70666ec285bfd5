import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recordplus.config.settings")
# `recordplus serve` says where it binds; under another server (uvicorn, gunicorn) nobody does,
# and anonymous access is then decided per request from the socket (core.anonymous).
os.environ.setdefault("RECORDPLUS_BIND_HOST", "unknown")
django_application = get_asgi_application()

from recordplus.core.body_limit import BodyLimit, max_body_bytes  # noqa: E402 - after Django is set up
from recordplus.core.http_timeouts import BodyTimeout, body_timeout_seconds  # noqa: E402
from recordplus.videos.hot_paths import HotPaths  # noqa: E402

# The hot paths (raw chunk uploads, streaming) are answered ahead of Django by a lean route
# (videos.hot_paths); body size and stall limits wrap both.
application = BodyTimeout(BodyLimit(HotPaths(django_application), max_body_bytes), body_timeout_seconds)
