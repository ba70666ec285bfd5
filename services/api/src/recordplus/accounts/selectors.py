"""Reads for users, API tokens and upload URLs."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from recordplus.accounts.models import ApiToken, UploadUrl
from recordplus.accounts.services import hash_token


def user_for_token(token: str) -> AbstractBaseUser | None:
    """The active user owning this token, or None."""
    if not token:
        return None
    found = ApiToken.objects.select_related("user").filter(key_hash=hash_token(token)).first()
    if found is None or not found.user.is_active:
        return None
    # Coarse "last used" so a token's use is visible without a write on every request.
    now = timezone.now()
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 300:
        ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
    return found.user


def upload_url_for_secret(secret: str) -> UploadUrl | None:
    """The live upload URL with this secret (its owner's account still active), or None."""
    if not secret:
        return None
    found = UploadUrl.objects.select_related("user").filter(key_hash=hash_token(secret), revoked_at__isnull=True).first()
    if found is None or (found.user is not None and not found.user.is_active):
        return None
    now = timezone.now()
    if found.last_used_at is None or (now - found.last_used_at).total_seconds() > 300:
        UploadUrl.objects.filter(pk=found.pk).update(last_used_at=now)
    return found


def upload_urls_of(user: AbstractBaseUser | None) -> list[UploadUrl]:
    """The user's upload URLs (the local owner's when None), newest first, revoked ones too."""
    return list(UploadUrl.objects.filter(user=user).order_by("-created_at", "-id"))
