import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recordplus.config.settings")
django_application = get_asgi_application()

from recordplus.core.body_limit import BodyLimit, max_body_bytes  # noqa: E402 - after Django is set up

application = BodyLimit(django_application, max_body_bytes)
