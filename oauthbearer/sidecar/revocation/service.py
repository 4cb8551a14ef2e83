"""Applying revocations: the store, the result cache and the counters, in one place.

Every source (the Kafka topic, the webhooks, ``POST /revocations``) ends here, on the
event loop. A principal's revocation sets its watermark *and* evicts its cached answers
at once (when principals are matched on ``sub``, the cache's own index finds them), so
the next request is decided afresh and checked against the watermark; token and jti
revocations are enforced when a cached answer is served (see
:meth:`RevocationStore.denies`).

Example:
    >>> from oauthbearer.sidecar.cache import ResultCache
    >>> from oauthbearer.sidecar.revocation.events import parse_fusionauth
    >>> clock = lambda: 1000.0
    >>> cache = ResultCache(ttl=60, max_entries=10, negative_ttl=0,
    ...                     negative_max_entries=1, clock=clock)
    >>> revocations = Revocations(RevocationStore(max_lifetime=3600, clock=clock), cache)
    >>> event = parse_fusionauth(b'{"event": {"type": "user.deactivate", "id": "1", '
    ...                          b'"user": {"id": "u-1"}}}')
    >>> revocations.apply(event, "fusionauth"), revocations.apply(event, "fusionauth")
    ('applied', 'duplicate')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from oauthbearer._jwt import unverified_claims
from oauthbearer.sidecar.cache import ResultCache, token_key
from oauthbearer.sidecar.revocation.events import Event
from oauthbearer.sidecar.revocation.store import RevocationStore

__all__ = ["EventObserver", "RevocationStore", "Revocations"]

#: ``observe(channel, type, outcome)`` for every event received.
EventObserver = Callable[[str, str, str], None]


def _nothing(_channel: str, _type: str, _outcome: str) -> None:
    """Default observer: no metrics."""


class Revocations:
    """Applies events and direct revocations to a :class:`RevocationStore` and the cache."""

    __slots__ = ("_cache", "_observe", "replayed", "store")

    def __init__(
        self, store: RevocationStore, cache: ResultCache, *, observe: EventObserver = _nothing
    ) -> None:
        self.store = store
        self._cache = cache
        self._observe = observe
        #: False until a Kafka source (if any) has replayed its history: /readyz waits.
        self.replayed = True

    def apply(self, event: Event, channel: str) -> str:
        """Apply one event received on ``channel``; returns its outcome.

        Outcomes: ``applied``, ``duplicate`` (its id was seen before), ``ignored`` (it
        revokes nothing, or nothing new), ``malformed``.
        """
        outcome = self._apply(event)
        self._observe(channel, event.type, outcome)
        return outcome

    def _apply(self, event: Event) -> str:
        if event.type == "malformed":
            return "malformed"
        if event.principal is None:
            return "ignored"
        if event.event_id is not None and not self.store.first_sight(event.event_id):
            return "duplicate"
        return "applied" if self.revoke_principal(event.principal, event.at) else "ignored"

    def observe_direct(self, kind: str, outcome: str) -> None:
        """Count a ``POST /revocations`` request (``kind``: sub, jti or token)."""
        self._observe("api", kind, outcome)

    def apply_batch(self, events: Iterable[Event], channel: str) -> None:
        """Apply events in order (the Kafka consumer hands them over in batches)."""
        for event in events:
            self.apply(event, channel)

    def revoke_principal(self, principal: str, at: float | None = None) -> bool:
        """Watermark ``principal`` at ``at`` (default now) and evict its cached answers."""
        changed = self.store.revoke_principal(principal, at)
        if changed and self.store.principal_claim == "sub":
            # The cache indexes answers by their sub: drop them now rather than judge them
            # on every hit. With another principal claim the hit-time check does the work.
            self._cache.evict_subject(principal)
        return changed

    def revoke_jti(self, jti: str, exp: float | None = None) -> bool:
        """Deny the token with this ``jti`` until ``exp`` (default: the max lifetime)."""
        return self.store.revoke_jti(jti, exp)

    def revoke_token(self, token: str, exp: float | None = None) -> bool:
        """Deny this very token until its ``exp`` (read from a JWT's payload if not given).

        The token itself is not kept: only its SHA-256, the cache's own key.
        """
        return self.store.revoke_token_key(token_key(token), exp or _jwt_exp(token))


def _jwt_exp(token: str) -> float | None:
    # Unverified on purpose: the exp only bounds how long the denial is kept. A forged
    # payload changes the token, hence its hash, so it cannot shorten another's denial.
    exp = unverified_claims(token).get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)
