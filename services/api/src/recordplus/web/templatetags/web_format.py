"""How the web app writes figures: a recording's length as a clock ("0:12", "1:02:05")."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def clock(seconds: float | None) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour on, rounded to the nearest second; "" for none.
    library.js writes the same figure when a tile turns ready while the page is open."""
    if seconds is None:
        return ""
    total = int(float(seconds) + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
