"""Per-caller limits: one misbehaving broker cannot starve the others of upstream capacity.

The shared, scarce resource is the upstream: at most ``OAUTHBEARER_UPSTREAM_MAX_CONCURRENCY``
calls in flight, and a queue in front of them that counts against the upstream timeout.
Without a per-caller share, one broker sending thousands of distinct opaque tokens fills
that queue and every other broker's logins time out (503) behind it.

So each caller (an authenticated id; anonymous callers share one) may have at most
``max_inflight`` distinct tokens being introspected. What is counted is upstream work, as
single flight does it: a request for a token already in progress (for any caller) joins
it without taking a slot, so a herd of clients sharing one token costs one slot. Cache
hits never reach this module (the sidecar answers them first, so a caller at its cap still
gets its cached tokens answered), and a locally verified JWT never suspends, so it holds a
slot for no time at all: in practice the cap counts distinct tokens waiting on the upstream
or on a JWKS refetch.
Beyond the cap a request waits for one of *its caller's* slots — at most ``max_queued``
of them, at most ``wait_timeout`` seconds — so a reconnection herd from one broker is
smoothed rather than refused. Past that, the
answer is **429 Too Many Requests with ``Retry-After``** (RFC 6585 §4: "the user has sent
too many requests in a given amount of time"), not 503: the refusal is this caller's own
excess, not an outage, and 503 stays the signal that the upstream is failing for everyone
(the alert on ``result="unavailable"`` keeps its meaning). Both peers' plugins treat any
answer other than 200 as a failed validation, so for the broker the effect is the same: that
one login is refused and the client retries.

Nothing here is thread-safe; everything runs on the event loop thread. Memory is bounded by
the number of configured callers (authenticated ids only ever reach this module).

Example:
    >>> import asyncio
    >>> limits = CallerLimits(max_inflight=1, max_queued=0, wait_timeout=1.0)
    >>> async def slow():
    ...     await asyncio.sleep(0.01)
    ...     return "verdict"
    >>> async def main():
    ...     return await asyncio.gather(
    ...         limits.call("broker-a", "token-1", slow),
    ...         limits.call("broker-a", "token-1", slow),  # the same work: joins, no slot
    ...         limits.call("broker-a", "token-2", slow),  # a second token: over the cap
    ...         limits.call("broker-b", "token-3", slow), return_exceptions=True)
    >>> [type(r).__name__ if isinstance(r, Exception) else r for r in asyncio.run(main())]
    ['verdict', 'verdict', 'CallerLimited', 'verdict']
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

__all__ = ["CallerLimited", "CallerLimits"]

P = ParamSpec("P")
T = TypeVar("T")


class CallerLimited(Exception):
    """This caller has too many introspections in progress (→ 429 with ``Retry-After``)."""

    def __init__(self, caller: str, retry_after: int) -> None:
        super().__init__(f"caller {caller!r} over its limit of introspections in progress")
        self.retry_after = retry_after


class _Share:
    __slots__ = ("inflight", "slots", "waiting")

    def __init__(self, max_inflight: int) -> None:
        self.slots = asyncio.Semaphore(max_inflight)
        self.inflight = 0
        self.waiting = 0


class CallerLimits:
    """Caps introspections in progress per caller; ``max_inflight=0`` turns the cap off."""

    __slots__ = ("_joined", "_max_inflight", "_max_queued", "_shares", "_wait_timeout", "limited")

    def __init__(self, *, max_inflight: int, max_queued: int, wait_timeout: float) -> None:
        self._max_inflight = max_inflight
        self._max_queued = max_queued
        self._wait_timeout = wait_timeout
        self._shares: dict[str, _Share] = {}
        # Requests per token in progress: later ones join the single-flight work for free.
        self._joined: dict[str, int] = {}
        #: Requests refused so far (also counted in the requests metric as ``limited``).
        self.limited = 0

    @property
    def enabled(self) -> bool:
        return self._max_inflight > 0

    def inflight(self, caller: str) -> int:
        """Introspections of ``caller`` in progress now (for tests and debugging)."""
        share = self._shares.get(caller)
        return share.inflight if share is not None else 0

    async def call(
        self,
        caller: str,
        token: str,
        work: Callable[P, Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``work`` for ``token`` within ``caller``'s share; :class:`CallerLimited` if over.

        ``token`` only identifies the work (as single flight does): it is held in memory
        while in progress, like the request holding it, and never logged.
        """
        if self._max_inflight <= 0:
            return await work(*args, **kwargs)
        if token in self._joined:
            self._joined[token] += 1
            try:
                return await work(*args, **kwargs)
            finally:
                self._release_token(token)
        share = self._shares.get(caller)
        if share is None:
            share = self._shares[caller] = _Share(self._max_inflight)
        if share.slots.locked():
            if share.waiting >= self._max_queued:
                raise self._refuse(caller)
            share.waiting += 1
            try:
                async with asyncio.timeout(self._wait_timeout):
                    await share.slots.acquire()
            except TimeoutError:
                raise self._refuse(caller) from None
            finally:
                share.waiting -= 1
        else:
            await share.slots.acquire()  # a free slot: returns without suspending
        share.inflight += 1
        self._joined[token] = self._joined.get(token, 0) + 1
        try:
            return await work(*args, **kwargs)
        finally:
            self._release_token(token)
            share.inflight -= 1
            share.slots.release()

    def _release_token(self, token: str) -> None:
        left = self._joined[token] - 1
        if left:
            self._joined[token] = left
        else:
            del self._joined[token]

    def _refuse(self, caller: str) -> CallerLimited:
        self.limited += 1
        # Retry-After in whole seconds (RFC 9110 §10.2.3); one wait budget is a fair hint.
        return CallerLimited(caller, max(1, round(self._wait_timeout)))
