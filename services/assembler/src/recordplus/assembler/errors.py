"""Errors of the media pipeline that are the upload's fault (never retried).

`MediaRejected` is part of the one hierarchy in `recordplus.core.errors` (permanent, with the
reason a user reads); it is re-exported here because the assembler's plain modules raise it.
This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

from recordplus.core.errors import MediaRejected

__all__ = ["MediaRejected"]
