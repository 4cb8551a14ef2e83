"""The negative cache's store: values that expire a fixed time after they were set.

A cold decision looks its token up in the negative cache before judging it, so a miss
there is on every cold request. cachetools' ``TTLCache`` answered a miss by raising and
catching ``KeyError`` inside a Python ``__contains__`` and then running its timer; here a
miss is one dict probe. All values share one lifetime, so insertion order is expiry
order: expired values are dropped from the front as new ones arrive, and the oldest
goes when the store is full of live ones (TTLCache dropped the least recently *read*;
a rejected token asked for again is judged again after a flood of new ones, within one
negative TTL). An ``OrderedDict``, not a plain one: a plain dict keeps the slots of
entries deleted from its front until it resizes, so reaching the oldest entry walked
past all of them, and a full store paid that on every insert (146 µs per insert at
100,000 entries, 3.2 s to expire 80,000, in a review's reproduction).

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
    >>> store[b"b"] = "inactive"
    >>> now[0] = 10.0
    >>> len(store), store.get(b"b"), len(store)
    (1, None, 0)
"""

from __future__ import annotations

from collections import OrderedDict
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
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

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
        if self.maxsize <= 0:
            return
        data = self._data
        data.pop(key, None)  # set again: to the end, where the latest deadlines are
        now = self._timer()
        # The expired go from the front as values arrive: one look when the oldest still
        # lives, and over time no more drops than inserts (so no pass over a burst at once).
        while data:
            _, (until, _) = next(iter(data.items()))  # the oldest, from the order's links
            if until > now:
                break
            data.popitem(last=False)
        if len(data) >= self.maxsize:
            data.popitem(last=False)
        data[key] = (now + self.ttl, value)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        """Values held: expired ones are counted until they are dropped (by a read of
        their key or by later values arriving), since until then they hold memory."""
        return len(self._data)
