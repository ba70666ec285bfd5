"""Whether a request may go without credentials: ALLOW_ANONYMOUS, decided per request when the
process cannot know where it is served.

`recordplus serve` knows the address it binds (RECORDPLUS_BIND_HOST), and the settings decide
once. Under another server (`uvicorn recordplus.config.asgi:application --host 0.0.0.0`,
gunicorn) nothing says so, and a default read from the environment would be a guess; then a
request is anonymous only when it actually reached a loopback socket (the ASGI scope's `server`
address, or gunicorn's socket under WSGI) and names a loopback host (a web page that rebinds its
DNS name to 127.0.0.1 does not). A request whose socket cannot be known is refused.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings

_LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    """The name in a Host header, without its port ("[::1]:8000" -> "::1")."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def served_address(request: Any) -> str | None:
    """The local address of the socket the request came in on, when the server says."""
    scope = getattr(request, "scope", None)
    if scope is not None:
        server = scope.get("server")
        return str(server[0]) if server else None
    sock = request.META.get("gunicorn.socket")
    if sock is not None:
        try:
            return str(sock.getsockname()[0])
        except OSError:
            return None
    return None


def anonymous_allowed(request: Any) -> bool:
    """True when `request` may be served without a token, session or signed URL."""
    if not settings.ANONYMOUS_ON_LOOPBACK_SOCKET:
        return bool(settings.ALLOW_ANONYMOUS)
    address = served_address(request)
    return address is not None and is_loopback(address) and is_loopback(_host_name(request.META.get("HTTP_HOST", "")))
