import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recordplus.config.settings")
# Nobody says where a WSGI server binds: anonymous access is decided per request (core.anonymous).
os.environ.setdefault("RECORDPLUS_BIND_HOST", "unknown")
application = get_wsgi_application()
