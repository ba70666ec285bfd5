"""Writes for users, API tokens and upload URLs."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from recordplus.accounts.models import ApiToken, UploadUrl

TOKEN_PREFIX = "rp_"
UPLOAD_SECRET_PREFIX = "up_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def user_create_with_token(*, username: str, token_name: str = "") -> tuple[AbstractBaseUser, str]:
    """Create the user if missing and a new API token for it; returns (user, token)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:  # no web sign-in until a password is set (user_set_password)
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user, token_create(user=user, name=token_name)


MIN_PASSWORD_LENGTH = 8


def user_set_password(*, user: AbstractBaseUser, password: str) -> None:
    """Let the user sign in to the web app with `password` (at least 8 characters, not blank)."""
    from recordplus.core.errors import BadRequest

    if len(password.strip()) < MIN_PASSWORD_LENGTH:
        raise BadRequest(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    user.set_password(password)
    user.save(update_fields=["password"])


def token_create(*, user: AbstractBaseUser, name: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_hash=hash_token(token), prefix=token[:10])
    return token


def upload_url_create(*, user: AbstractBaseUser | None, name: str = "") -> tuple[UploadUrl, str]:
    """A new upload URL secret for `user` (None: the local anonymous owner of the embedded
    mode); returns the row and the secret, which is not stored and cannot be shown again."""
    secret = UPLOAD_SECRET_PREFIX + secrets.token_urlsafe(24)
    row = UploadUrl.objects.create(user=user, name=name, key_hash=hash_token(secret), prefix=secret[:10])
    return row, secret


def upload_url_revoke(*, upload_url: UploadUrl) -> None:
    """Stop the URL working, at once (the next request through it gets 404)."""
    if upload_url.revoked_at is None:
        upload_url.revoked_at = timezone.now()
        upload_url.save(update_fields=["revoked_at"])


def local_upload_secret(*, secret_file: Path) -> str:
    """The embedded mode's default upload URL secret (the local anonymous owner's), kept in
    `secret_file` (mode 0600, beside the database) so `serve` prints the same URL at every
    start; made anew when the file is missing or its URL was revoked."""
    from recordplus.accounts.selectors import upload_url_for_secret

    if secret_file.is_file():
        secret = secret_file.read_text().strip()
        if upload_url_for_secret(secret) is not None:
            return secret
    _, secret = upload_url_create(user=None, name="local default")
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def upload_url_for_base(base_url: str, secret: str) -> str:
    """The URL to set as the extension's base URL: `<base>/u/<secret>/api/record/`."""
    return f"{base_url.rstrip('/')}/u/{secret}/api/record/"


@transaction.atomic
def upload_url_rotate(*, user: AbstractBaseUser | None, name: str = "") -> tuple[UploadUrl, str]:
    """Revoke every live upload URL of `user` and make a new one."""
    UploadUrl.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    return upload_url_create(user=user, name=name)
