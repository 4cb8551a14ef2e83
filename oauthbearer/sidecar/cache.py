"""The verdict cache (single flight for tokens not yet in it: :mod:`.single_flight`).

* Keys are SHA-256 digests of the token: the token itself is never stored, so a heap dump
  or a debug print of the cache discloses nothing usable.
* A positive verdict lives ``min(ttl, exp - now)``: RFC 7662 §4 lets a server cache
  results but "a token's expiration time … [must not be] exceeded", and ``ttl`` is the
  worst-case delay before a revocation is seen. ``exp`` is re-checked on every hit as well,
  so a fast clock jump cannot serve an expired token.
* Inactive verdicts go to a separate, short-lived, size-bounded cache so a flood of
  garbage tokens costs the upstream at most one call per token per ``negative_ttl``, and
  memory stays bounded whatever arrives.
* An index by ``sub`` lets every cached verdict of one principal be evicted at once;
  :meth:`ResultCache.evict_active` drops every active one (a realm-wide revocation).

Nothing here is thread-safe; everything runs on the one event loop thread.
The timer is injected: tests advance a fake clock instead of sleeping.

Example:
    >>> from oauthbearer.sidecar.verdict import token_key
    >>> now = [1000.0]
    >>> cache = ResultCache(ttl=60, max_entries=10, negative_ttl=2,
    ...                     negative_max_entries=10, clock=lambda: now[0])
    >>> key = token_key("some-token")
    >>> cache.put(key, Verdict.of({"sub": "app", "exp": 1030, "iat": 1000}, "upstream"))
    >>> cache.get(key).sub
    'app'
    >>> now[0] = 1030.0      # exp reached before the 60 s TTL: gone
    >>> cache.get(key) is None
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from oauthbearer.sidecar.expiring import ExpiringDict
from oauthbearer.sidecar.verdict import Verdict

__all__ = ["ResultCache"]

Clock = Callable[[], float]


#: A cached active verdict: (serve until, on the TTL clock), body, exp, sub, source.
_Entry = tuple[float, bytes, float, str | None, str]


class ResultCache:
    """Positive and negative verdicts keyed by :func:`token_key`, with a ``sub`` index.

    Positive verdicts live in one insertion-ordered dict of ``key → (serve_until, body,
    exp, sub, source)``: expiry is judged when an entry is read, so no per-entry heap,
    timer or linked list is kept. That bookkeeping was most of a TLRU cache's memory
    (bench/memory.py, 100,000 entries: 79 MiB of RSS with cachetools' TLRUCache, 63 MiB
    with this dict, interned principals and a monotonic deadline per entry). When the dict
    is full, the oldest 1 % go (insertion order), without a pass over the rest: a full
    cache, the steady state of a busy sidecar, costs an amortised constant per insert.

    An entry is a plain tuple of bytes, strings and numbers, which the garbage collector
    stops tracking, and a hit makes its :class:`Verdict` anew. With a ``Verdict`` object
    kept in each entry, every full collection walked the whole cache: a 47 ms pause with
    about 60,000 entries under load, which put a cold request's p99 at 19 to 29 ms in the
    benchmark runs that had one (4 ms in those that had none).
    """

    __slots__ = (
        "_by_sub",
        "_clock",
        "_index_size",
        "_max_entries",
        "_negative",
        "_positive",
        "_ttl",
        "_ttl_clock",
        "hits",
        "misses",
    )

    def __init__(
        self,
        *,
        ttl: float,
        max_entries: int,
        negative_ttl: float,
        negative_max_entries: int,
        clock: Clock,
        ttl_clock: Clock | None = None,
    ) -> None:
        self._ttl = ttl
        # Two clocks: exp is a wall-clock instant, but the TTL is a duration. Timing it on
        # the wall clock would let a step back of J seconds serve a cached answer for
        # TTL + J (a revoked token living that much longer); the sidecar passes
        # time.monotonic here. Tests pass one fake clock for both.
        self._clock = clock
        self._ttl_clock = clock if ttl_clock is None else ttl_clock
        self._max_entries = max_entries
        self._positive: dict[bytes, _Entry] = {}
        self._negative: ExpiringDict[bytes, Verdict] | None = (
            ExpiringDict(maxsize=negative_max_entries, ttl=negative_ttl, timer=self._ttl_clock)
            if negative_ttl > 0
            else None
        )
        self._by_sub: dict[str, set[bytes]] = {}
        self._index_size = 0  # keys in the index, stale ones included
        self.hits = 0
        self.misses = 0

    def _lifetime(self, verdict: Verdict) -> float:
        # RFC 7662 §4: never past exp; and never longer than the TTL, which is the
        # worst-case delay before a revocation is seen.
        if verdict.exp is None:
            return 0.0
        return max(0.0, min(self._ttl, verdict.exp - self._clock()))

    def ttl_for(self, verdict: Verdict) -> float:
        """Seconds ``verdict`` would be served from cache if stored now (0 = not at all)."""
        if verdict.exp is None:
            return self._negative.ttl if self._negative is not None else 0.0
        return self._lifetime(verdict)

    def get(self, key: bytes, *, counted: bool = True) -> Verdict | None:
        """The cached verdict for ``key`` or ``None``; counts a hit or a miss unless
        ``counted=False`` (a second look by a request already counted, :meth:`peek`)."""
        entry = self._positive.get(key)
        if entry is not None:
            until, body, exp, sub, source = entry
            # exp re-checked on the wall clock as well: a jump forward past exp ends it.
            if self._ttl_clock() < until and self._clock() < exp:
                if counted:
                    self.hits += 1
                return Verdict(body, exp, sub, source)
            del self._positive[key]
            self._unindex(sub, key)
        negative = self._negative
        verdict = negative.get(key) if negative is not None else None
        if counted:
            if verdict is None:
                self.misses += 1
            else:
                self.hits += 1
        return verdict

    def count_as_hit(self) -> None:
        """A lookup counted a miss, and its request was answered from the cache after
        all (a second look, after waiting for a slot): one hit, not a miss."""
        self.misses -= 1
        self.hits += 1

    def uncount_miss(self) -> None:
        """A lookup counted a miss for a request that is handed on unanswered, to be
        looked up (and counted) again where it is answered."""
        self.misses -= 1

    def peek(self, key: bytes) -> Verdict | None:
        """:meth:`get` without counting (a second look by a request already counted)."""
        return self.get(key, counted=False)

    def put(self, key: bytes, verdict: Verdict) -> None:
        """Store ``verdict`` for as long as it may be served (possibly not at all)."""
        body, exp, sub, source = verdict
        if exp is None:
            if self._negative is not None:
                self._negative[key] = verdict
            return
        # _lifetime, inlined: every cold decision stores one verdict.
        lifetime = min(self._ttl, exp - self._clock())
        if lifetime <= 0:
            return
        now = self._ttl_clock()
        positive = self._positive
        if len(positive) >= self._max_entries and key not in positive:
            self._make_room()
        positive[key] = (now + lifetime, body, exp, sub, source)
        if sub is not None:
            keys = self._by_sub.get(sub)
            if keys is None:
                keys = self._by_sub[sub] = set()
            held = len(keys)
            keys.add(key)
            if len(keys) > held:
                self._index_size += 1
                # Bounded by keys, not principals: one principal renewing its token for
                # days must not grow its set forever.
                if self._index_size > 2 * self._max_entries:
                    self._prune_index()

    def _make_room(self) -> None:
        # The oldest 1 %, expired or not, in insertion order: lifetimes are capped by one
        # TTL, so the oldest are the first to expire anyway, and an entry dropped early
        # costs one fresh decision. A pass over the whole dict for expired entries first
        # paused 6-9 ms per 100,000 entries, and a full cache made one every 1,000 puts
        # (3.5 us a put on average). An expired entry elsewhere is dropped when it is read
        # (get) or reaches the front, and is never served meanwhile.
        positive = self._positive
        for key in list(itertools.islice(positive, max(1, self._max_entries // 100))):
            self._unindex(positive.pop(key)[3], key)

    def _unindex(self, sub: str | None, key: bytes) -> None:
        # Out of the sub index with its entry: left there, dropped keys made the index
        # outgrow its bound, and the rebuild that then ran paused 29 ms per 100,000.
        if sub is None:
            return
        keys = self._by_sub.get(sub)
        if keys is not None and key in keys:
            keys.remove(key)
            self._index_size -= 1
            if not keys:
                del self._by_sub[sub]

    def evict_subject(self, sub: str) -> int:
        """Drop every cached positive verdict for principal ``sub``; returns how many."""
        evicted = 0
        keys = self._by_sub.pop(sub, set())
        self._index_size -= len(keys)
        for key in keys:
            if self._positive.pop(key, None) is not None:
                evicted += 1
        return evicted

    def evict_active(self) -> int:
        """Drop every cached positive verdict (a realm-wide revocation); returns how many.

        Inactive verdicts stay: a revocation makes nothing active.
        """
        evicted = len(self._positive)
        self._positive = {}
        self._by_sub.clear()
        self._index_size = 0
        return evicted

    def evict_source(self, source: str) -> int:
        """Drop every cached positive verdict that ``source`` gave (e.g. ``"jwks"``).

        One pass over the cache: for rare events (a signing key withdrawn), not per
        request. The ``sub`` index keeps the dropped keys until its next pruning, as it
        does for expired ones.
        """
        kept = {k: v for k, v in self._positive.items() if v[4] != source}
        evicted = len(self._positive) - len(kept)
        self._positive = kept
        return evicted

    def clear(self) -> None:
        self._positive.clear()
        if self._negative is not None:
            self._negative.clear()
        self._by_sub.clear()
        self._index_size = 0

    def _prune_index(self) -> None:
        # Rebuild the index from what is still servable, so it stays proportional to the
        # cache, not to the history of principals.
        now = self._ttl_clock()
        live = {k: v for k, v in self._positive.items() if v[0] > now}
        self._positive = live
        index: dict[str, set[bytes]] = {}
        for key, entry in live.items():
            sub = entry[3]
            if sub is not None:
                index.setdefault(sub, set()).add(key)
        self._by_sub = index
        self._index_size = sum(len(keys) for keys in index.values())

    def __len__(self) -> int:
        return self.active_entries + self.inactive_entries

    @property
    def active_entries(self) -> int:
        """Active verdicts held (bounded by ``max_entries``)."""
        return len(self._positive)

    @property
    def inactive_entries(self) -> int:
        """Inactive verdicts held (bounded by the negative cache's own size)."""
        return len(self._negative) if self._negative is not None else 0

    @property
    def hit_ratio(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
