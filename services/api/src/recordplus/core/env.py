"""Typed helpers that read settings from the environment and fail loudly on bad values.

An empty value counts as unset for every helper (the default applies), so a file of `NAME=`
lines such as `.env.example` can be exported as written. Each error is one line naming the
variable and what it accepts. `load_env_file` reads a `.env` file; the real environment wins.

This module imports neither Django nor Dramatiq.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ImproperlyConfiguredEnv(ValueError):
    """An environment variable holds a value that cannot be used (or a settings file cannot be
    read); the message is one line naming the variable and what it accepts."""


def _raw(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw


def envstr(name: str, default: str = "") -> str:
    """A string; `NAME_FILE` (a path to a file holding the value) wins over `NAME`, for secrets."""
    file_path = _raw(f"{name}_FILE")
    if file_path is not None:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise ImproperlyConfiguredEnv(
                f"{name}_FILE={file_path!r} cannot be read ({reason}); give a readable file holding {name}"
            ) from exc
    raw = _raw(name)
    return default if raw is None else raw


def envbool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a boolean; use true or false (or 1/0, yes/no, on/off)")


def _at_least(minimum: float | None) -> str:
    return "" if minimum is None else f" of at least {minimum}"


def envint(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not an integer; use a whole number{_at_least(minimum)}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={value} must be at least {minimum}")
    return value


def envfloat(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} is not a number; use a number{_at_least(minimum)}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfiguredEnv(f"{name}={value} must be at least {minimum}")
    return value


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = _raw(name)
    value = default if raw is None else raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfiguredEnv(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return value


def envlist(name: str, default: str = "") -> list[str]:
    """A comma-separated list; an empty value counts as unset (the default applies)."""
    raw = _raw(name) or default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines of a `.env` file: blank lines and `#` comments are skipped, `export `
    may lead, a value may be quoted with '' or "" (taken literally: no escapes, no `$`
    expansion), and an unquoted value ends at ` #`."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc.__class__.__name__
        raise ImproperlyConfiguredEnv(f"settings file {str(path)!r} cannot be read ({reason})") from None
    values: dict[str, str] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if entry.startswith("export "):
            entry = entry[len("export "):].lstrip()
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise ImproperlyConfiguredEnv(f"{path}:{lineno}: expected NAME=value, got {line.strip()[:80]!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


def load_env_file(path: Path) -> dict[str, str]:
    """Put a `.env` file's values into `os.environ` where the environment has none (unset or
    empty): the real environment wins. Returns what was applied."""
    applied = {name: value for name, value in parse_env_file(path).items() if _raw(name) is None}
    os.environ.update(applied)
    return applied
