"""A cache that notices changed files: the forms, rubrics and grade scales are read once and read again
when one of their files changes (checked at most once a second), so every process of a deployment picks up
an edited or added file without a restart. Profiles kept in the database are cached by their content."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
CHECK_INTERVAL = 1.0


def _signature(paths: Iterable[Path]) -> tuple:
    found = []
    for path in sorted(paths):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def reloading(watch: Callable[..., Iterable[Path]], interval: float = CHECK_INTERVAL) -> Callable[[F], F]:
    """Cache ``fn(*args)`` until a file ``watch(*args)`` names is added, removed or changed."""

    def decorate(fn: F) -> F:
        results: dict[tuple, tuple[tuple, float, Any]] = {}
        lock = threading.Lock()

        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            now = time.monotonic()
            entry = results.get(args)
            if entry is not None and now - entry[1] < interval:
                return entry[2]
            signature = _signature(watch(*args))
            if entry is not None and entry[0] == signature:
                results[args] = (signature, now, entry[2])
                return entry[2]
            with lock:
                value = fn(*args)
                results[args] = (signature, now, value)
            return value

        wrapper.cache_clear = results.clear  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
