"""What has been revoked: per-principal watermarks and a denylist of single tokens.

Three kinds of revocation, all bounded and all forgetting on their own:

* **Watermarks** — ``principal → T``. A revocation for a principal at time ``T`` makes
  every token of that principal with ``iat ≤ T`` inactive; a token issued later
  (``iat > T``, the user logged in again) is unaffected. A watermark is dropped once
  ``T + max_lifetime + skew`` has passed: every token it could deny has expired by then,
  so keeping it would only cost memory.
* **Denylist** — one token by its ``jti`` or by its :func:`~oauthbearer.sidecar.cache.
  token_key` (SHA-256 of the token), denied until that token's ``exp`` (or, when the
  ``exp`` is unknown, for ``max_lifetime``).
* **Wide watermarks** (:mod:`~oauthbearer.sidecar.revocation.wide`, the store's ``wide``)
  — every token, or every token of one application, issued at or before ``T``; judged
  on fresh decisions only (:meth:`RevocationStore.denies_fresh`).

Each table holds at most ``max_entries`` and sheds expired entries as new ones arrive
(:mod:`~oauthbearer.sidecar.revocation.tables`); a live one forced out by a full table is
counted (``observe("dropped")``): a capacity failure an operator must see.

Not thread-safe on purpose: the sidecar applies every revocation on its event loop (the
Kafka consumer thread hands them over with ``call_soon_threadsafe``), which is also what
makes "apply the watermark, then evict the cache" atomic with respect to a decision in
flight.

Example:
    >>> now = [1000.0]
    >>> store = RevocationStore(max_lifetime=3600, clock=lambda: now[0])
    >>> store.revoke_principal("alice", at=1000.0)
    True
    >>> store.denies_principal("alice", iat=999), store.denies_principal("alice", iat=1001)
    (True, False)
    >>> now[0] = 1000.0 + 3600 + 31     # older than any token it could deny: forgotten
    >>> store.denies_principal("alice", iat=999)
    False
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from oauthbearer.sidecar.revocation.tables import (
    SeenIds,
    effective_time,
    insert,
    verdict_claims,
    verdict_seconds,
)
from oauthbearer.sidecar.revocation.tables import purge as purge_expired
from oauthbearer.sidecar.revocation.wide import WideWatermarks
from oauthbearer.sidecar.verdict import Verdict

__all__ = ["RevocationStore"]

Clock = Callable[[], float]
Observe = Callable[[str], None]
K = TypeVar("K")


def _nothing(_kind: str) -> None:
    """Default observer: no metrics."""


class RevocationStore:
    """Watermarks by principal and a jti/token-hash/session denylist, bounded and self-expiring.

    ``max_lifetime`` is the longest lifetime of any access token (seconds): watermarks
    are kept that long after ``T`` (plus ``clock_skew``, which token validation tolerates
    on ``exp``). ``principal_claim`` names the answer's claim compared with a revoked
    principal (``sub`` unless configured). ``observe(kind)`` is called with
    ``principal``/``jti``/``token`` when a revocation is applied, ``denied:<kind>`` when
    it denies a token, and ``dropped`` when capacity forced a live entry out.

    ``wide`` holds the realm- and application-wide watermarks (:mod:`.wide`), with the
    same lifetime, bound and observer; they are checked by :meth:`denies_fresh` only.
    """

    __slots__ = (
        "_clock",
        "_jtis",
        "_keys",
        "_max_entries",
        "_max_future",
        "_max_lifetime",
        "_observe",
        "_seen",
        "_sessions",
        "_skew",
        "_watermarks",
        "principal_claim",
        "wide",
    )

    def __init__(
        self,
        *,
        max_lifetime: float,
        clock: Clock,
        max_entries: int = 100_000,
        clock_skew: float = 30.0,
        principal_claim: str = "sub",
        observe: Observe = _nothing,
    ) -> None:
        if max_lifetime <= 0:
            raise ValueError("max_lifetime must be positive")
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_lifetime = max_lifetime
        self._clock = clock
        self._max_entries = max_entries
        self._skew = clock_skew
        # An event stamped in the future by a skewed IdP clock must not deny a principal's
        # new tokens for longer than that skew.
        self._max_future = clock_skew
        self.principal_claim = principal_claim
        self._observe = observe
        # OrderedDict, not dict: entries leave from the head, and a plain dict's iteration
        # starts by stepping over every slot deleted there (quadratic under a flood).
        self._watermarks: OrderedDict[str, float] = OrderedDict()
        self._jtis: OrderedDict[str, float] = OrderedDict()
        self._keys: OrderedDict[bytes, float] = OrderedDict()
        self._sessions: OrderedDict[str, float] = OrderedDict()
        self._seen = SeenIds(keep=max_lifetime, clock=clock, max_entries=max_entries)
        self.wide = WideWatermarks(
            max_lifetime=max_lifetime,
            clock=clock,
            max_entries=max_entries,
            clock_skew=clock_skew,
            observe=observe,
        )

    def now(self) -> float:
        """The store's clock: the time a revocation without a time of its own takes."""
        return self._clock()

    def effective_time(self, at: float | None) -> float:
        """The time a revocation stamped ``at`` takes effect at: now when it has none,
        and never later than now plus the clock skew (an IdP or browser clock ahead)."""
        return effective_time(at, self._clock(), self._max_future)

    # -- writing ----------------------------------------------------------------------

    def revoke_principal(self, principal: str, at: float | None = None) -> bool:
        """Deny ``principal``'s tokens issued at or before ``at`` (default: now).

        Returns ``False`` when nothing changed: an equal or later watermark was already
        held (replays and duplicate deliveries are therefore harmless), or ``at`` is so
        old that every token it could deny has expired.
        """
        now = self._clock()
        at = effective_time(at, now, self._max_future)
        if at <= self._lifetime_cutoff(now):
            return False
        held = self._watermarks.get(principal)
        if held is not None and held >= at:
            return False
        # Moved to the end so the order follows the order revocations arrive in, which is
        # what the head sweep and the capacity rule rely on.
        self._watermarks.pop(principal, None)
        self._insert(self._watermarks, sys.intern(principal), at, self._lifetime_cutoff(now))
        self._observe("principal")
        return True

    def revoke_jti(self, jti: str, until: float | None = None) -> bool:
        """Deny the token whose ``jti`` is ``jti`` until ``until`` (its ``exp``)."""
        return self._deny(self._jtis, jti, until, "jti")

    def revoke_session(self, sid: str) -> bool:
        """Deny every token of the session ``sid`` (its ``sid`` claim) for the max lifetime."""
        return self._deny(self._sessions, sid, None, "session")

    def revoke_token_key(self, key: bytes, until: float | None = None) -> bool:
        """Deny the token whose :func:`token_key` is ``key`` until ``until`` (its ``exp``)."""
        return self._deny(self._keys, key, until, "token")

    def first_sight(self, event_id: str) -> bool:
        """True the first time ``event_id`` is offered, False for a redelivery.

        Remembered for ``max_lifetime`` and at most ``max_entries`` ids: applying an event
        twice is harmless anyway (watermarks only move forward), this keeps the counts
        and the answers of retried webhook deliveries honest.
        """
        return self._seen.first_sight(event_id)

    def _deny(self, table: OrderedDict[K, float], item: K, until: float | None, kind: str) -> bool:
        now = self._clock()
        limit = now + self._max_lifetime + self._skew
        until = limit if until is None else min(until + self._skew, limit)
        if until <= now or table.get(item, 0.0) >= until:
            return False
        table.pop(item, None)
        self._insert(table, item, until, now)  # a denial is kept until its own time
        self._observe(kind)
        return True

    def _insert(self, table: OrderedDict[K, float], item: K, value: float, limit: float) -> None:
        # An entry whose value is at or below ``limit`` has expired.
        insert(
            table, item, value, limit=limit, max_entries=self._max_entries, dropped=self._dropped
        )

    def _dropped(self) -> None:
        self._observe("dropped")

    def _lifetime_cutoff(self, now: float) -> float:
        # Every token a watermark at or before this could deny has expired.
        return now - self._max_lifetime - self._skew

    # -- reading ----------------------------------------------------------------------

    def watermark(self, principal: str) -> float | None:
        """The live watermark ``T`` for ``principal``, or ``None``."""
        at = self._watermarks.get(principal)
        if at is None:
            return None
        if at <= self._lifetime_cutoff(self._clock()):
            del self._watermarks[principal]
            return None
        return at

    def denies_principal(self, principal: str, iat: float | None) -> bool:
        """True when a watermark covers a token of ``principal`` issued at ``iat``.

        A token without ``iat`` cannot be placed before or after the watermark; it is
        judged as issued now (the time the answer synthesises for it), so it is allowed.
        """
        at = self.watermark(principal)
        return at is not None and iat is not None and iat <= at

    def denies_jti(self, jti: str) -> bool:
        until = self._jtis.get(jti)
        return until is not None and self._clock() < until

    def denies_token_key(self, key: bytes) -> bool:
        until = self._keys.get(key)
        return until is not None and self._clock() < until

    def denies(self, key: bytes, verdict: Verdict) -> str | None:
        """Why an active ``verdict`` for the token ``key`` is revoked, or ``None``.

        Cheap when nothing is revoked: an empty store costs one truth test, and with
        ``principal_claim == "sub"`` a principal without a watermark costs one dict
        lookup. The rendered answer is decoded only when its iat or jti is really needed.
        """
        if not (self._watermarks or self._jtis or self._keys or self._sessions):
            return None
        if self._keys and self.denies_token_key(key):
            self._observe("denied:token")
            return "token revoked"
        claims: dict[str, Any] | None = None
        if self._watermarks:
            if self.principal_claim == "sub":
                principal = verdict.sub
                needs_claims = principal is not None and principal in self._watermarks
            else:
                claims = verdict_claims(verdict)
                value = claims.get(self.principal_claim)
                principal = value if isinstance(value, str) else None
                needs_claims = principal is not None
            if needs_claims and principal is not None:
                claims = claims if claims is not None else verdict_claims(verdict)
                if self.denies_principal(principal, verdict_seconds(claims.get("iat"))):
                    self._observe("denied:watermark")
                    return "principal revoked"
        if self._jtis:
            claims = claims if claims is not None else verdict_claims(verdict)
            jti = claims.get("jti")
            if isinstance(jti, str) and self.denies_jti(jti):
                self._observe("denied:jti")
                return "jti revoked"
        if self._sessions:
            claims = claims if claims is not None else verdict_claims(verdict)
            sid = claims.get("sid")
            until = self._sessions.get(sid) if isinstance(sid, str) else None
            if until is not None and self._clock() < until:
                self._observe("denied:session")
                return "session revoked"
        return None

    def denies_fresh(self, key: bytes, verdict: Verdict) -> str | None:
        """:meth:`denies` for a verdict just decided, before it is cached: the realm- and
        application-wide watermarks as well, which the cache-hit path leaves out (applying
        one drops every cached active verdict instead)."""
        return self.denies(key, verdict) or self.wide.denies(verdict)

    def purge(self) -> None:
        """Drop every expired entry now (the tables otherwise shed them as they go)."""
        now = self._clock()
        purge_expired(self._watermarks, self._lifetime_cutoff(now))
        purge_expired(self._jtis, now)
        purge_expired(self._keys, now)
        purge_expired(self._sessions, now)
        self._seen.purge()
        self.wide.purge()

    def __len__(self) -> int:
        """Revocations held (watermarks and denied tokens; event ids not counted)."""
        held = len(self._watermarks) + len(self._jtis) + len(self._keys) + len(self._sessions)
        return held + len(self.wide)

    @property
    def seen_ids(self) -> int:
        return len(self._seen)

    def __repr__(self) -> str:
        # Counts only: principals are not secrets, but a repr is no place to list them.
        return (
            f"RevocationStore(watermarks={len(self._watermarks)}, jtis={len(self._jtis)}, "
            f"tokens={len(self._keys)}, sessions={len(self._sessions)}, "
            f"everyone={int(self.wide.everyone is not None)}, "
            f"applications={self.wide.applications})"
        )
