"""Revocations wider than one principal: every token, or every token of one application.

* **Everyone** — ``T``: every token with ``iat ≤ T`` is inactive, whoever holds it.
  Keycloak's "Sign out all active sessions" and "Push" of the revocation policy (at the
  admin event's time), its "Set to now" (at the realm's new ``notBefore``), and
  ``POST /revocations {"all": true}`` (now).
* **Applications** — ``application → T``: every token of that application with
  ``iat ≤ T``. FusionAuth's revocation of all the refresh tokens of one application. A
  token belongs to the application when its ``applicationId``, ``azp`` or ``client_id``
  claim, or one of its ``aud`` values, is the application's id.

Like a principal's watermark, each is forgotten once ``T + max_lifetime + skew`` has
passed, only moves forward (a replayed or repeated event changes nothing), and a ``T``
more than the skew ahead of the clock is taken as now + skew.

How they reach the cache: a cached verdict keeps no ``iat`` (bench/memory.py's budget),
so the cache cannot be filtered by it, and checking these watermarks on every hit would
mean decoding every cached answer. Instead, applying one drops every cached active
verdict (:meth:`~oauthbearer.sidecar.cache.ResultCache.evict_active`), and
:meth:`WideWatermarks.denies` judges fresh decisions before they are cached, where the
rendered answer is at hand. Every verdict in the cache was therefore judged against the
watermarks in force, and the cache-hit path checks nothing new.

Example:
    >>> from oauthbearer.sidecar.verdict import Verdict
    >>> wide = WideWatermarks(max_lifetime=3600, clock=lambda: 1000.0)
    >>> wide.revoke_everyone(at=1000.0)
    True
    >>> wide.denies(Verdict.of({"sub": "a", "iat": 999, "exp": 2000}, "jwks"))
    'everyone revoked'
    >>> wide.denies(Verdict.of({"sub": "a", "iat": 1001, "exp": 2000}, "jwks")) is None
    True
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from oauthbearer.sidecar.revocation.tables import (
    effective_time,
    insert,
    purge,
    verdict_claims,
    verdict_seconds,
)
from oauthbearer.sidecar.verdict import Verdict

__all__ = ["WideWatermarks"]

Clock = Callable[[], float]
Observe = Callable[[str], None]

#: The claims naming the application a token was issued to (``aud`` is read apart: it
#: may be a list).
_APPLICATION_CLAIMS = ("applicationId", "azp", "client_id")


def _nothing(_kind: str) -> None:
    """Default observer: no metrics."""


class WideWatermarks:
    """The realm-wide watermark and the applications' watermarks, self-expiring.

    ``observe(kind)`` is called with ``everyone``/``application`` when one is applied,
    ``denied:everyone``/``denied:application`` when it denies a token, and ``dropped``
    when ``max_entries`` applications forced a live one out.
    """

    __slots__ = (
        "_applications",
        "_clock",
        "_everyone",
        "_max_entries",
        "_max_lifetime",
        "_observe",
        "_skew",
    )

    def __init__(
        self,
        *,
        max_lifetime: float,
        clock: Clock,
        max_entries: int = 100_000,
        clock_skew: float = 30.0,
        observe: Observe = _nothing,
    ) -> None:
        self._max_lifetime = max_lifetime
        self._clock = clock
        self._max_entries = max_entries
        self._skew = clock_skew
        self._observe = observe
        self._everyone: float | None = None
        self._applications: OrderedDict[str, float] = OrderedDict()

    # -- writing ----------------------------------------------------------------------

    def revoke_everyone(self, at: float | None = None) -> bool:
        """Deny every token issued at or before ``at`` (default: now).

        ``False`` when nothing changed: an equal or later watermark is held, or ``at`` is
        older than any token that may still be valid.
        """
        at = self._effective(at)
        if at is None or (self._everyone is not None and self._everyone >= at):
            return False
        self._everyone = at
        self._observe("everyone")
        return True

    def revoke_application(self, application: str, at: float | None = None) -> bool:
        """Deny every token of ``application`` issued at or before ``at`` (default: now)."""
        at = self._effective(at)
        if at is None:
            return False
        held = self._applications.get(application)
        if held is not None and held >= at:
            return False
        self._applications.pop(application, None)
        insert(
            self._applications,
            application,
            at,
            limit=self._cutoff(),
            max_entries=self._max_entries,
            dropped=self._dropped,
        )
        self._observe("application")
        return True

    def _effective(self, at: float | None) -> float | None:
        at = effective_time(at, self._clock(), self._skew)
        return at if at > self._cutoff() else None

    def _cutoff(self) -> float:
        # Every token a watermark at or before this could deny has expired.
        return self._clock() - self._max_lifetime - self._skew

    def _dropped(self) -> None:
        self._observe("dropped")

    # -- reading ----------------------------------------------------------------------

    @property
    def everyone(self) -> float | None:
        """The live realm-wide watermark ``T``, or ``None``."""
        at = self._everyone
        if at is not None and at <= self._cutoff():
            self._everyone = at = None
        return at

    def application(self, application: str) -> float | None:
        """The live watermark ``T`` of ``application``, or ``None``."""
        at = self._applications.get(application)
        if at is None:
            return None
        if at <= self._cutoff():
            del self._applications[application]
            return None
        return at

    def denies(self, verdict: Verdict) -> str | None:
        """Why the freshly decided active ``verdict`` is revoked, or ``None``.

        One test while nothing is revoked; otherwise the rendered answer is read for its
        ``iat`` (always there: the answer synthesises one when the token has none).
        """
        if self._everyone is None and not self._applications:
            return None
        claims = verdict_claims(verdict)
        iat = verdict_seconds(claims.get("iat"))
        if iat is None:
            return None
        everyone = self.everyone
        if everyone is not None and iat <= everyone:
            self._observe("denied:everyone")
            return "everyone revoked"
        if self._applications:
            for application in _applications_of(claims):
                at = self.application(application)
                if at is not None and iat <= at:
                    self._observe("denied:application")
                    return "application revoked"
        return None

    def purge(self) -> None:
        """Drop every expired watermark now."""
        _ = self.everyone
        purge(self._applications, self._cutoff())

    def __len__(self) -> int:
        return (self.everyone is not None) + len(self._applications)

    @property
    def applications(self) -> int:
        return len(self._applications)


def _applications_of(claims: dict[str, Any]) -> Iterator[str]:
    for name in _APPLICATION_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str) and value:
            yield value
    aud = claims.get("aud")
    for value in aud if isinstance(aud, list) else (aud,):
        if isinstance(value, str) and value:
            yield value
