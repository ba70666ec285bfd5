"""A per-process cache of loaded models. Plain module: no Django, no Dramatiq.

Models are expensive (seconds to load, hundreds of MB to GBs in memory): a worker process loads
each one once, on the first message that needs it, and keeps it for every later message. The
key is everything that changes what gets loaded, so a settings change in tests gets a new model.
A lock makes concurrent worker threads wait for one load instead of loading twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_models: dict[Hashable, Any] = {}
_loads: dict[Hashable, int] = {}


def get_or_load(key: Hashable, loader: Callable[[], T]) -> T:
    """Return the cached object for `key`, calling `loader()` only the first time."""
    with _lock:
        if key in _models:
            return _models[key]
        value = loader()
        _models[key] = value
        _loads[key] = _loads.get(key, 0) + 1
        return value


def load_count(key: Hashable) -> int:
    """How many times `key` was loaded in this process (tests assert it stays 1)."""
    return _loads.get(key, 0)


def clear() -> None:
    """Forget every cached model (tests; a process never needs it)."""
    with _lock:
        _models.clear()
        _loads.clear()
