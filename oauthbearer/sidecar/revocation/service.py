"""Applying revocations: the store, the result cache and the counters, in one place.

Every source (the Kafka topic, the webhooks, ``POST /revocations``) ends here, on the
event loop. A principal's revocation sets its watermark *and* evicts its cached answers
at once (when principals are matched on ``sub``, the cache's own index finds them), so
the next request is decided afresh and checked against the watermark; token and jti
revocations are enforced when a cached answer is served (see
:meth:`RevocationStore.denies`). A realm-wide (``everyone``) or application-wide
revocation drops every cached active answer at once (cached answers keep no ``iat`` to
filter by), and every fresh decision is checked against it before it is cached
(:meth:`RevocationStore.denies_fresh`).

Example:
    >>> from oauthbearer.sidecar.cache import ResultCache
    >>> from oauthbearer.sidecar.revocation.events import parse_fusionauth, finite_seconds
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
from oauthbearer.sidecar.cache import ResultCache
from oauthbearer.sidecar.revocation.event_model import MalformedEvent, text
from oauthbearer.sidecar.revocation.events import Event, finite_seconds
from oauthbearer.sidecar.revocation.records import EVERYONE, RevocationRecord, new_event_id
from oauthbearer.sidecar.revocation.spellings import other_spellings
from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.verdict import token_key

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
        return self.receive(event, channel)[0]

    def receive(self, event: Event, channel: str) -> tuple[str, RevocationRecord | None]:
        """Apply one event; returns its outcome and the record to share with the replicas.

        The record is returned for a duplicate too: a retried webhook delivery may be the
        retry of one whose record never reached Kafka.
        """
        if event.type == "malformed":
            outcome, record = "malformed", None
        elif not event.revokes:
            outcome, record = "ignored", None
        else:
            kind, value = _target(event)
            # Capped before it is shared: a replica replaying the record later would cap
            # a time ahead of its clock against *its* now, and deny tokens issued after the
            # event ("Set to now" carries the admin's browser clock).
            record = RevocationRecord(
                kind,
                value,
                self.store.effective_time(event.at),
                event.source,
                event.event_id or new_event_id(event.source),
            )
            outcome = self._accept(record)
        self._observe(channel, event.type, outcome)
        return outcome, record

    def refused(self, channel: str) -> None:
        """A request on ``channel`` whose caller did not authenticate (counted only)."""
        self._observe(channel, "other", "unauthorized")

    def apply_record(self, record: RevocationRecord, channel: str) -> str:
        """Apply one of our revocation records (the topic's, or the API's own)."""
        outcome = self._accept(record)
        self._observe(channel, record.kind, outcome)
        return outcome

    def apply_batch(self, items: Iterable[tuple[str, Event | RevocationRecord]]) -> None:
        """Apply ``(channel, item)`` pairs in order (the Kafka consumer's batches)."""
        for channel, item in items:
            if isinstance(item, RevocationRecord):
                self.apply_record(item, channel)
            else:
                self.apply(item, channel)

    def _accept(self, record: RevocationRecord) -> str:
        # Dedupe first: every replica reads back what it wrote itself.
        if not self.store.first_sight(record.event_id):
            return "duplicate"
        if record.kind == "principal":
            changed = self.revoke_principal(record.value, record.at)
        elif record.kind == "jti":
            changed = self.revoke_jti(record.value, record.exp)
        elif record.kind == "session":
            changed = self.store.revoke_session(record.value)
        elif record.kind == "everyone":
            changed = self.revoke_everyone(record.at)
        elif record.kind == "application":
            changed = self.revoke_application(record.value, record.at)
        else:
            changed = self.store.revoke_token_key(bytes.fromhex(record.value), record.exp)
        return "applied" if changed else "ignored"

    def revoke_principal(self, principal: str, at: float | None = None) -> bool:
        """Watermark ``principal`` at ``at`` (default now) and evict its cached answers."""
        changed = self.store.revoke_principal(principal, at)
        if changed and self.store.principal_claim == "sub":
            # The cache indexes answers by their sub: drop them now rather than judge them
            # on every hit. With another principal claim the hit-time check does the work.
            self._cache.evict_subject(principal)
        return changed

    def revoke_everyone(self, at: float | None = None) -> bool:
        """Deny every token issued at or before ``at`` (default now); drop every cached
        active answer, so each is decided afresh against it."""
        changed = self.store.wide.revoke_everyone(at)
        if changed:
            self._cache.evict_active()
        return changed

    def revoke_application(self, application: str, at: float | None = None) -> bool:
        """Deny every token of ``application`` issued at or before ``at`` (default now).

        Every cached active answer is dropped, the other applications' too: which ones
        belong to it is only known from their claims, and decoding every cached answer
        would cost more than deciding the few that come back.
        """
        changed = self.store.wide.revoke_application(application, at)
        if changed:
            self._cache.evict_active()
        return changed

    def revoke_jti(self, jti: str, exp: float | None = None) -> bool:
        """Deny the token with this ``jti`` until ``exp`` (default: the max lifetime)."""
        return self.store.revoke_jti(jti, exp)

    def direct_record(self, kind: str, value: str, exp: float | None) -> RevocationRecord:
        """The record of a ``POST /revocations``: ``kind`` is ``sub``, ``jti``, ``token``
        or ``all`` (every token issued until now; ``value`` is not read).

        A token is recorded by its SHA-256 fingerprint only, with its ``exp`` read from a
        JWT's payload when none is given.
        """
        now = self.store.now()
        if kind == "sub":
            return RevocationRecord("principal", value, now, "api", new_event_id("api"))
        if kind == "all":
            return RevocationRecord("everyone", EVERYONE, now, "api", new_event_id("api"))
        if kind == "jti":
            return RevocationRecord("jti", value, now, "api", new_event_id("api"), exp)
        fingerprint = token_key(value).hex()
        return RevocationRecord(
            "token", fingerprint, now, "api", new_event_id("api"), exp or _jwt_exp(value)
        )

    def direct_records(self, kind: str, value: str, exp: float | None) -> list[RevocationRecord]:
        """:meth:`direct_record`, and for a JWT revoked as a token its other spelling and
        its ``jti`` too.

        A token is denied by the hash of its text, and an ECDSA signature has two
        spellings (s and n - s) that both verify: the holder of a revoked ES256 token
        could re-spell it and be let in. So the twin's hash is denied with it
        (:mod:`.spellings`: a token without a jti had no other cover), and the jti
        (RFC 9068 requires one) has no second spelling. Unverified on purpose, like the
        exp: the operator holds the token.
        """
        record = self.direct_record(kind, value, exp)
        if kind != "token":
            return [record]
        twins = [
            RevocationRecord(
                "token", token_key(twin).hex(), record.at, "api", new_event_id("api"), record.exp
            )
            for twin in other_spellings(value)
        ]
        try:
            jti = text(unverified_claims(value).get("jti"))  # an id's bounds, as everywhere
        except MalformedEvent:
            jti = None
        if jti is None or not jti.isascii():
            return [record, *twins]
        also = RevocationRecord("jti", jti, record.at, "api", new_event_id("api"), record.exp)
        return [record, *twins, also]


def _target(event: Event) -> tuple[str, str]:
    """The record kind and value of a revoking event."""
    if event.principal is not None:
        return "principal", event.principal
    if event.session is not None:
        return "session", event.session
    if event.application is not None:
        return "application", event.application
    return "everyone", EVERYONE


def _jwt_exp(token: str) -> float | None:
    # Unverified on purpose: the exp only bounds how long the denial is kept. A forged
    # payload changes the token, hence its hash, so it cannot shorten another's denial.
    return finite_seconds(unverified_claims(token).get("exp"))
