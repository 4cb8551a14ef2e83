"""The process-wide token cache: one slot per request identity, shared by every provider.

A slot holds the current token, when to refresh it, and the fetch and backoff state that
single flight needs; its condition variable is what concurrent callers wait on.
:data:`SHARED_CACHE` is the one every :class:`~oauthbearer.client.provider.TokenProvider`
uses unless given its own (tests, ``oauthbearer token``).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Hashable

from oauthbearer.client.rotation import RefreshTokens
from oauthbearer.client.token import Token
from oauthbearer.errors import OAuthBearerError

__all__ = ["SHARED_CACHE", "TokenCache", "TokenSlot"]


class TokenSlot:
    """Shared state for one request identity. Guarded by ``cond``.

    ``refresh_at``, ``refresh_from``, ``retry_at`` and ``valid_until`` are monotonic
    seconds: a stepped wall clock (NTP, a resumed VM) must neither stop fetching for the
    length of the step nor postpone a refresh. The token's ``expires_at`` stays epoch
    seconds, as Kafka is told.
    """

    __slots__ = (
        "__weakref__",  # the fork hook's registry (_SLOTS)
        "cond",
        "failures",
        "fetches",
        "fetching",
        "generation",
        "last_error",
        "refresh_at",
        "refresh_from",
        "refresh_tokens",
        "retry_at",
        "token",
        "valid_until",
    )

    def __init__(self) -> None:
        self.cond = threading.Condition(threading.Lock())
        self.token: Token | None = None
        self.valid_until = 0.0  # monotonic: when the token has lived its lifetime
        self.refresh_at = 0.0
        self.refresh_from = 0.0  # the start of the jitter window refresh_at was drawn from
        self.fetching = False
        self.failures = 0
        self.retry_at = 0.0
        self.last_error: OAuthBearerError | None = None
        self.generation = 0  # bumped after every fetch, so waiters know theirs finished
        self.fetches = 0
        # The refresh_token grant's current refresh token lives with the token it came
        # with, under the same lock: whichever provider leads the next refresh sends it.
        self.refresh_tokens = RefreshTokens(self.cond)
        _SLOTS.add(self)

    def valid_token(self, now: float, tick: float) -> Token | None:
        """The cached token if it is valid (``cond`` held), else None.

        Valid by both clocks: by the monotonic ``tick`` it has not lived its lifetime
        (after a backwards step the wall clock would say it has an extra hour, which the
        server does not grant), and by the wall clock ``now`` its ``expires_at`` is still
        ahead (librdkafka refuses an expiry in the past, whatever the real age).
        """
        token = self.token
        if token is None or not token.is_valid(now) or tick >= self.valid_until:
            return None
        return token

    def keeps_current(self, tick: float, *, due: float) -> bool:
        """With a valid token cached (``cond`` held): hand it out rather than refresh, as
        the refresh is not ``due`` yet, another caller is doing it, or we back off.
        ``tick`` and ``due`` are monotonic seconds."""
        return tick < due or self.fetching or tick < self.retry_at

    # How one fetch ends, with ``cond`` held: the state, then everyone waiting woken.
    def fetched(
        self, token: Token, *, valid_until: float, refresh_at: float, refresh_from: float
    ) -> None:
        """The fetch brought ``token``: failures and backoff are forgotten."""
        self.fetches += 1
        self.token, self.valid_until = token, valid_until
        self.refresh_at, self.refresh_from = refresh_at, refresh_from
        self.failures, self.retry_at, self.last_error = 0, 0.0, None
        self._finished()

    def failed(self, error: OAuthBearerError, *, retry_at: float, counted: bool = True) -> None:
        """The fetch failed with ``error``: no attempt before ``retry_at``.

        ``counted=False``: not a failure of the endpoint (nothing was sent), so the
        failures in a row that the backoff grows with stay as they are.
        """
        self.fetches += 1
        if counted:
            self.failures += 1
        self.retry_at, self.last_error = retry_at, error
        self._finished()

    def abandoned(self) -> None:
        """The fetch ended without an outcome (interrupted): the next caller fetches."""
        self._finished()

    def _finished(self) -> None:
        self.fetching = False
        self.generation += 1
        self.cond.notify_all()

    def after_fork(self) -> None:
        """In a child process just forked: the parent's threads are gone.

        A fetch in flight in the parent left ``fetching`` set, and every call in the child
        waited for a thread that does not exist there (and gave up, for the life of the
        process); a lock held by one of those threads would never be released. The
        token itself stays: it is as good in the child as in the parent.
        """
        self.cond = threading.Condition(threading.Lock())
        self.refresh_tokens.after_fork(self.cond)
        self.fetching = False
        self.generation += 1


class TokenCache:
    """Token slots keyed by request identity. :data:`SHARED_CACHE` is the process-wide one.

    Example:
        >>> cache = TokenCache()
        >>> cache.slot(("a",)) is cache.slot(("a",)), len(cache)
        (True, 1)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[Hashable, TokenSlot] = {}
        _CACHES.add(self)

    def slot(self, key: Hashable) -> TokenSlot:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = TokenSlot()
            return slot

    def clear(self) -> None:
        """Forget every cached token and backoff state; providers keep working (tests, REPLs).

        Rotated refresh tokens are kept: the server retired the ones they replaced, so
        forgetting them would leave only a refresh token it refuses (and may treat as reuse).
        """
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            with slot.cond:
                slot.token = None
                slot.valid_until = slot.refresh_at = slot.refresh_from = slot.retry_at = 0.0
                slot.failures = 0
                slot.last_error = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()


#: Every cache and slot of this process, for the fork hook (gunicorn --preload,
#: multiprocessing's fork start method and Celery's prefork pool all fork after clients
#: were built). Slots on their own: a provider keeps its slot, not always its cache.
_CACHES: weakref.WeakSet[TokenCache] = weakref.WeakSet()
_SLOTS: weakref.WeakSet[TokenSlot] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_CACHES):
        cache._after_fork()
    for slot in list(_SLOTS):
        slot.after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)

SHARED_CACHE = TokenCache()
