"""Errors of the media pipeline that are the upload's fault (never retried).

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations


class MediaRejected(Exception):
    """The upload is not a usable video; `str(exc)` is the reason shown to the user."""
