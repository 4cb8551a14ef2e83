"""The revocation store's tables: bounded, insertion-ordered, forgetting on their own.

Every table of :class:`~oauthbearer.sidecar.revocation.store.RevocationStore` and of
:class:`~oauthbearer.sidecar.revocation.wide.WideWatermarks` is an ``OrderedDict`` of
``item → value``, where an entry whose value is at or below the table's *cutoff* has
expired (a watermark older than any live token, a denial past its token's ``exp``).
Entries arrive in roughly the order they expire, so expired ones gather at the head: each
insertion retires up to two of them, and no timer runs. When a table is full of live
entries the oldest go first, and each is counted: forgetting a live revocation is a
capacity failure an operator must see, never a silent one.

This module also holds the event ids seen (:class:`SeenIds`, every source's idempotency)
and reads what the tables are compared with: the claims of a rendered verdict.

Example:
    >>> from collections import OrderedDict
    >>> table: OrderedDict[str, float] = OrderedDict(a=1.0, b=2.0)
    >>> insert(table, "c", 9.0, limit=1.5, max_entries=10)   # "a" (1.0 <= 1.5) retired
    >>> list(table)
    ['b', 'c']
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from oauthbearer._numeric_date import numeric_date
from oauthbearer.sidecar.verdict import Verdict

__all__ = ["SeenIds", "effective_time", "insert", "purge", "verdict_claims", "verdict_seconds"]

K = TypeVar("K")
Clock = Callable[[], float]

# Expired entries looked at from each table's head per insertion: enough to keep up with
# any arrival rate (each insert can retire two), small enough to stay O(1).
_HEAD_SWEEP = 2


def effective_time(at: float | None, now: float, max_future: float) -> float:
    """When a revocation stamped ``at`` takes effect: ``now`` when it has no time, and
    never later than ``now + max_future``: an event from a clock running ahead (an IdP's,
    an admin's browser) denies new tokens for no longer than that.

    Example:
        >>> effective_time(None, 100.0, 30.0), effective_time(500.0, 100.0, 30.0)
        (100.0, 130.0)
    """
    return now if at is None else min(at, now + max_future)


def insert(
    table: OrderedDict[K, float],
    item: K,
    value: float,
    *,
    limit: float,
    max_entries: int,
    dropped: Callable[[], None] | None = None,
) -> None:
    """Put ``item`` at the end of ``table``, retiring expired heads (value ≤ ``limit``).

    Full of live entries, the oldest 1 % go (``dropped`` is called for each): a flood
    then costs an amortised constant per insert, and each loss is counted.
    """
    full = len(table) >= max_entries
    # Full: sweep the head until a live entry, not just two. No full scan: order is
    # arrival order, so expired entries gather at the head; one that arrived late
    # (a replayed old event) waits its turn, and is judged expired on read meanwhile.
    for _ in range(len(table) if full else _HEAD_SWEEP):
        if not table or table[next(iter(table))] > limit:
            break
        table.popitem(last=False)
    if len(table) >= max_entries:
        for _ in range(max(1, max_entries // 100)):
            table.popitem(last=False)
            if dropped is not None:
                dropped()
    table[item] = value


def purge(table: OrderedDict[K, float], limit: float) -> None:
    """Drop every entry of ``table`` whose value is at or below ``limit``, wherever it is."""
    for stale in [k for k, v in table.items() if v <= limit]:
        del table[stale]


def verdict_claims(verdict: Verdict) -> dict[str, Any]:
    """The claims of a cached verdict, read back from its rendered answer."""
    decoded = json.loads(verdict.body)
    return decoded if isinstance(decoded, dict) else {}


def verdict_seconds(value: object) -> float | None:
    """A claim that is a time (``iat``), as a float; None for anything else."""
    number = numeric_date(value)
    return None if number is None else float(number)


class SeenIds:
    """Event ids offered, each remembered for ``keep`` seconds, at most ``max_entries``.

    Example:
        >>> seen = SeenIds(keep=60, clock=lambda: 1000.0, max_entries=10)
        >>> seen.first_sight("e1"), seen.first_sight("e1")
        (True, False)
    """

    __slots__ = ("_clock", "_keep", "_max_entries", "ids")

    def __init__(self, *, keep: float, clock: Clock, max_entries: int) -> None:
        self._keep = keep
        self._clock = clock
        self._max_entries = max_entries
        self.ids: OrderedDict[str, float] = OrderedDict()

    def first_sight(self, event_id: str) -> bool:
        """True the first time ``event_id`` is offered (within ``keep``), False after."""
        if event_id in self.ids:
            return False
        now = self._clock()
        insert(self.ids, event_id, now, limit=now - self._keep, max_entries=self._max_entries)
        return True

    def purge(self) -> None:
        purge(self.ids, self._clock() - self._keep)

    def __len__(self) -> int:
        return len(self.ids)
