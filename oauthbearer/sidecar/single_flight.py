"""Single flight: concurrent requests for one uncached token share one decision.

A broker's reconnect storm asks for the same opaque token many times at once; the
upstream is asked once (the thundering-herd scenario of bench/README.md: 1 call for 1,000
requests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["SingleFlight"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    """Collapse concurrent calls for one key into one execution.

    The work runs in its own task, so a caller that goes away (a broker closing the
    connection) does not cancel it for the others waiting on the same key.

    Example:
        >>> import asyncio
        >>> calls = []
        >>> async def work():
        ...     calls.append(1); await asyncio.sleep(0); return "verdict"
        >>> async def main():
        ...     flight = SingleFlight()
        ...     return await asyncio.gather(*(flight.run("k", work) for _ in range(5)))
        >>> asyncio.run(main()), len(calls)
        (['verdict', 'verdict', 'verdict', 'verdict', 'verdict'], 1)
    """

    __slots__ = ("_inflight",)

    def __init__(self) -> None:
        self._inflight: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, work: Callable[[], Awaitable[V]]) -> V:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(work())
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        return await asyncio.shield(task)

    def _done(self, key: K, task: asyncio.Task[V]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every waiter may have gone away

    def __len__(self) -> int:
        return len(self._inflight)
