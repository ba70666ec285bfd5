"""Reads for users and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from recordplus.accounts.models import ApiToken
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
