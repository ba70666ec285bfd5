"""Writes for users and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from recordplus.accounts.models import ApiToken

TOKEN_PREFIX = "rp_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def user_create_with_token(*, username: str, token_name: str = "") -> tuple[AbstractBaseUser, str]:
    """Create the user if missing and a new API token for it; returns (user, token)."""
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    return user, token_create(user=user, name=token_name)


def token_create(*, user: AbstractBaseUser, name: str = "") -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, name=name, key_hash=hash_token(token), prefix=token[:10])
    return token
