"""A least-recently-used cache bounded by the size of what it holds, not by entry count.

Callers choose the keys of the decision path's caches (field lists, patterns), so a cap on
entries alone lets a few long keys take hundreds of megabytes of a worker for good.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable

from cachetools import LRUCache

ENTRY_OVERHEAD = 64  # bytes of bookkeeping an entry costs beyond its text


def text_size(value: object) -> int:
    """About how many bytes ``value`` (strings, tuples and lists of them) keeps alive."""
    if isinstance(value, str):
        return ENTRY_OVERHEAD + len(value)
    if isinstance(value, tuple | list):
        return ENTRY_OVERHEAD + sum(text_size(item) for item in value)
    return ENTRY_OVERHEAD


class BoundedCache:
    """``get``/``put`` under a lock (gthread workers share it), at most ``max_bytes`` held."""

    def __init__(self, max_bytes: int) -> None:
        self._cache: LRUCache = LRUCache(max_bytes, getsizeof=self._size)
        self._lock = threading.Lock()

    @staticmethod
    def _size(entry: tuple[Hashable, object]) -> int:
        return text_size(entry[0]) + text_size(entry[1])

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        """The cached value for ``key``, computing and keeping it on a miss."""
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit[1]
        value = compute()
        entry = (key, value)
        if self._size(entry) <= self._cache.maxsize:
            with self._lock:
                self._cache[key] = entry
        return value

    @property
    def held_bytes(self) -> int:
        return self._cache.currsize
