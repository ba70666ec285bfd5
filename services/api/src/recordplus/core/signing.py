"""Short-lived signed URLs: HMAC-SHA256 over what a URL grants and until when.

Plain module: imports neither Django nor Dramatiq. The caller says what the grant covers (for
media: the video's public id and which file) and supplies the key and the clock, so every rule
here is tested in-process.

A signature is `base64url(HMAC-SHA256(key, part₁ LF part₂ … LF expires))` without padding. Parts
may not contain a line feed, so no two different grants sign the same message. A URL is valid
while `now < expires` (unix seconds): `expires` is the first second it no longer works.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from recordplus.core.errors import RecordPlusError

SIGNATURE_CHARS = 43  # 32 bytes of SHA-256 in unpadded base64url


class SignatureRejected(RecordPlusError):
    """A signed URL that does not grant this request: tampered, for another file, or expired."""

    status = 403
    code = "signature_rejected"


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose from the server's secret, so a signature made for one use (media
    URLs) can never be replayed as another's, and the secret itself is never the HMAC key."""
    if not secret:
        raise ValueError("a signing key needs a non-empty secret")
    return hmac.new(secret.encode(), f"recordplus signing key: {purpose}".encode(), hashlib.sha256).digest()


def _message(parts: tuple[str, ...], expires: int) -> bytes:
    for part in parts:
        if "\n" in part:
            raise ValueError(f"a signed part may not contain a line feed: {part!r}")
    return "\n".join((*parts, str(expires))).encode()


def sign(key: bytes, parts: tuple[str, ...], expires: int) -> str:
    """The signature granting `parts` until `expires` (unix seconds)."""
    digest = hmac.new(key, _message(parts, expires), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(key: bytes, parts: tuple[str, ...], expires: str | int | None, signature: str | None, *, now: float) -> int:
    """Check a signature made by `sign`; returns the expiry, or raises SignatureRejected saying why.

    The signature is checked before the expiry, so a forged URL is never told it merely expired.
    """
    if not signature or expires is None or str(expires) == "":
        raise SignatureRejected("this media URL is incomplete: it needs both `expires` and `sig`; ask the API for a fresh one")
    text = str(expires)
    if not (text.isascii() and text.isdigit() and len(text) <= 12):
        raise SignatureRejected(f"`expires` must be unix seconds, got {text[:40]!r}")
    expiry = int(text)
    expected = sign(key, parts, expiry)
    if not hmac.compare_digest(expected.encode(), str(signature).encode()):
        raise SignatureRejected(
            "this media URL's signature is not valid for this video and file (altered or copied from another URL); "
            "ask the API for a fresh one"
        )
    if now >= expiry:
        raise SignatureRejected(
            f"this media URL expired {int(now - expiry)} s ago; fetch the video again for fresh URLs",
            {"expired_at": expiry},
        )
    return expiry


def secret_from_file(path: Path) -> str:
    """A random secret kept in `path` (0600), made on first use (or when the file is empty): the
    embedded mode's signing secret when no SECRET_KEY is configured, stable across restarts like
    its upload URL. The caller serialises first uses (one process, see videos.media_links)."""
    if path.is_file():
        existing = path.read_text().strip()
        if existing:
            return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret
