"""The negative cache's store: values that expire a fixed time after they were set.

A cold decision looks its token up in the negative cache before judging it, so a miss
there is on every cold request. cachetools' ``TTLCache`` answered a miss by raising and
catching ``KeyError`` inside a Python ``__contains__`` and then running its timer; here a
miss is one dict probe. All values share one lifetime, so insertion order is expiry
order: expired values are dropped from the front when room is needed, and the oldest
goes when the store is full of live ones.

Nothing here is thread-safe; everything runs on the one event loop thread.

Example:
    >>> now = [0.0]
    >>> store = ExpiringDict(maxsize=2, ttl=5.0, timer=lambda: now[0])
    >>> store[b"a"] = "inactive"
    >>> store.get(b"a"), store.get(b"b")
    ('inactive', None)
    >>> now[0] = 5.0
    >>> store.get(b"a") is None, len(store)
    (True, 0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["ExpiringDict"]

K = TypeVar("K")
V = TypeVar("V")


class ExpiringDict(Generic[K, V]):
    """At most ``maxsize`` values, each served for ``ttl`` seconds of ``timer`` after it
    was set (a value set again starts its lifetime anew)."""

    __slots__ = ("_data", "_timer", "maxsize", "ttl")

    def __init__(self, *, maxsize: int, ttl: float, timer: Callable[[], float]) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._timer = timer
        self._data: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        """The value for ``key`` while it lives, else None."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if self._timer() < entry[0]:
            return entry[1]
        del self._data[key]
        return None

    def __setitem__(self, key: K, value: V) -> None:
        data = self._data
        data.pop(key, None)  # set again: to the end, where the latest deadlines are
        if len(data) >= self.maxsize:
            self._make_room()
            if len(data) >= self.maxsize:
                return  # maxsize 0 (or less): nothing is kept
        data[key] = (self._timer() + self.ttl, value)

    def _make_room(self) -> None:
        """Drop the expired values at the front, or else the oldest one."""
        data = self._data
        self._expire()
        if data and len(data) >= self.maxsize:
            del data[next(iter(data))]

    def _expire(self) -> None:
        data = self._data
        now = self._timer()
        while data:
            oldest = next(iter(data))
            if data[oldest][0] > now:
                return
            del data[oldest]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        """Values still living."""
        self._expire()
        return len(self._data)
