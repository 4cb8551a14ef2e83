"""The decision: cache, then local JWT verification or upstream introspection.

Routing, per token:

* cached verdict (positive within its TTL and before ``exp``, negative for a few
  seconds) → answered from the cache;
* not shaped like an access token at all → inactive, no upstream call;
* a JWT and a JWKS is configured → verified locally; that verdict is final (a JWT that
  fails our checks is not sent upstream to be second-guessed);
* otherwise an upstream is configured → RFC 7662 delegation;
* otherwise → inactive (an opaque token and nothing that can judge it).

Concurrent requests for one uncached token share one decision (single flight). A failed
upstream call raises :class:`~oauthbearer.errors.UpstreamUnavailable` to every waiter and
is never cached.

Example:
    >>> import asyncio
    >>> cache = ResultCache(ttl=60, max_entries=10, negative_ttl=0,
    ...                     negative_max_entries=1, clock=lambda: 1000.0)
    >>> decide = Introspector(cache=cache, clock=lambda: 1000.0)
    >>> asyncio.run(decide.introspect("opaque-token")).verdict.active
    False
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from oauthbearer.sidecar.cache import ResultCache
from oauthbearer.sidecar.claims import DEFAULT_CLAIM_RULES, ClaimRules
from oauthbearer.sidecar.request import looks_like_token
from oauthbearer.sidecar.response import NotUsable, normalize
from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.single_flight import SingleFlight
from oauthbearer.sidecar.verdict import Verdict, token_key
from oauthbearer.verify.jwt_validator import CompactJws, InvalidJwt, JwtValidator
from oauthbearer.verify.upstream import UpstreamIntrospector

__all__ = ["Introspector", "Outcome"]

Clock = Callable[[], float]


class Outcome(NamedTuple):
    """A verdict plus how it was reached this time (for the decision log and metrics).

    ``source`` is ``cache`` for a hit; the verdict's own ``source`` says who decided.
    A named tuple, made for every request: a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) cost more than the tuple's ``__new__``.
    """

    verdict: Verdict
    source: str
    reason: str | None = None

    @classmethod
    def inactive(cls, source: str, reason: str) -> Outcome:
        return cls(Verdict.inactive(source), source, reason)


class Introspector:
    """Reaches a verdict for a token, using and filling the cache."""

    def __init__(
        self,
        *,
        cache: ResultCache,
        clock: Clock,
        upstream: UpstreamIntrospector | None = None,
        jwt: JwtValidator | None = None,
        claim_rules: ClaimRules = DEFAULT_CLAIM_RULES,
        default_lifetime: float = 60.0,
        response_issuer: str | None = None,
        revocations: RevocationStore | None = None,
    ) -> None:
        self.cache = cache
        self._clock = clock
        self._upstream = upstream
        self._jwt = jwt
        self._claim_rules = claim_rules
        self._default_lifetime = default_lifetime
        self._response_issuer = response_issuer
        self._revocations = revocations
        self._flight: SingleFlight[bytes, Outcome] = SingleFlight()

    def set_upstream(self, upstream: UpstreamIntrospector | None) -> None:
        """Attach the upstream client once the shared HTTP client exists (lifespan)."""
        self._upstream = upstream

    async def introspect(self, token: str) -> Outcome:
        """The outcome for ``token``; raises ``UpstreamUnavailable`` when undecidable."""
        key = token_key(token)
        cached = self.lookup(key)
        return cached if cached is not None else await self.decide(token, key)

    def lookup(self, key: bytes, *, counted: bool = True) -> Outcome | None:
        """The cached outcome for a :func:`token_key`, or None: no I/O, no await.

        ``counted=False`` looks without counting a hit or miss (a second look for a
        request whose first one was counted).

        The sidecar answers hits this way before any per-caller limit: a hit costs no
        upstream capacity, so a caller at its cap still gets its cached tokens answered.
        """
        cached = self.cache.get(key, counted=counted)
        if cached is None:
            return None
        # Revocations are checked on every hit as well as on fresh decisions. iat and
        # jti are not kept on the cached Verdict (two more fields per entry would push
        # bench/memory.py past its 64 MiB for 100,000 entries): a principal's
        # revocation evicts its entries through the cache's sub index, and this check,
        # free while nothing is revoked and one dict lookup per hit otherwise, reads
        # iat/jti from the rendered answer only for a principal that has a watermark
        # (or when jtis are denied, or principals are matched on a claim other than
        # sub). Realm- and application-wide revocations are not checked here at all:
        # applying one drops every cached active verdict, and _settle checks them
        # before anything is cached again.
        if self._revocations is not None and cached.active:
            reason = self._revocations.denies(key, cached)
            if reason is not None:
                return Outcome(Verdict.inactive(cached.source), "cache", reason)
        return Outcome(cached, "cache")

    def decide_now(self, token: str, key: bytes) -> Outcome | None:
        """Judge a JWT not in the cache without I/O, and cache it; None if I/O is needed.

        A JWT whose keys are at hand is judged on the spot: no await, no task, nothing
        to wait for, so neither single flight nor the per-caller limit has anything to
        protect. None sends the caller to :meth:`decide` (an opaque token, keys still to
        fetch, an unknown ``kid``).
        """
        jwt = self._jwt
        if jwt is None:
            return None
        jws = jwt.parse(token)
        if jws is None:
            return None
        try:
            claims = jwt.verify_now(jws, exp_leeway=0.0)
        except InvalidJwt as exc:
            outcome = Outcome.inactive("jwks", str(exc))
        else:
            if claims is None:
                return None
            outcome = self._shape(claims, "jwks")
        # The shape is judged after the signature, and only for a refusal: a verified
        # token is three strict base64url segments, which always have the shape (a
        # regular expression over the whole token was 1.5 us of every cold decision).
        if not outcome.verdict.active and not looks_like_token(token):
            outcome = Outcome.inactive("none", "not shaped like an access token")
        return self._settle(key, outcome)

    async def decide(self, token: str, key: bytes) -> Outcome:
        """Judge a token not in the cache (``key`` is its :func:`token_key`), and cache it."""
        # Looked up again: a request that waited for its caller's slot (limits.py) may find
        # the token decided meanwhile by the request ahead of it. Without this, every
        # queued request for one token made its own upstream call once it got a slot.
        cached = self.lookup(key, counted=False)
        if cached is not None:
            # Counted as /metrics' cache_lookups_total counts it: a hit.
            self.cache.count_as_hit()
            return cached
        jws = self._jwt.parse(token) if self._jwt is not None else None
        if jws is not None:
            # Local verification calls no upstream (at most the JWKS, which shares its
            # own fetches), so single flight protects nothing here.
            return self._settle(key, await self._judge(token, jws))
        return await self._flight.run(key, lambda: self._decide_opaque(token, key))

    async def _decide_opaque(self, token: str, key: bytes) -> Outcome:
        return self._settle(key, await self._judge(token, None))

    def _settle(self, key: bytes, outcome: Outcome) -> Outcome:
        """Cache ``outcome`` unless a revocation denies it (no await before the put)."""
        # Checked after the (awaited) judgement and before caching, with no await in
        # between: revocations are applied on this event loop, so one that arrived while
        # the upstream call was in flight is seen here, and a revoked answer is never cached.
        # denies_fresh: the realm- and application-wide watermarks too, judged on the
        # answer's iat, which the cached verdict no longer shows.
        if self._revocations is not None and outcome.verdict.active:
            reason = self._revocations.denies_fresh(key, outcome.verdict)
            if reason is not None:
                outcome = Outcome.inactive(outcome.source, reason)
        self.cache.put(key, outcome.verdict)
        return outcome

    async def _judge(self, token: str, jws: CompactJws | None) -> Outcome:
        """``jws``: the token parsed as a JWT, when there is a JWKS to check it against."""
        if not looks_like_token(token):
            return Outcome.inactive("none", "not shaped like an access token")
        if jws is not None and self._jwt is not None:
            try:
                claims = await self._jwt.verify(jws, exp_leeway=0.0)
            except InvalidJwt as exc:
                return Outcome.inactive("jwks", str(exc))
            return self._shape(claims, "jwks")
        if self._upstream is not None:
            # An answer without iat gets the time the call began, not the time it came
            # back: a revocation acknowledged while the call was in flight then covers
            # it (revocations deny iat <= their time), whichever second the answer lands in.
            asked_at = self._clock()
            data = await self._upstream.introspect(token)
            if data["active"] is not True:
                return Outcome.inactive("upstream", "upstream says inactive")
            return self._shape(data, "upstream", asked_at)
        return Outcome.inactive("none", "not a JWT and no upstream configured")

    def _shape(self, claims: dict[str, Any], source: str, asked_at: float | None = None) -> Outcome:
        now = self._clock()
        try:
            shaped = normalize(
                claims,
                now=now,
                rules=self._claim_rules,
                default_lifetime=self._default_lifetime,
                response_issuer=self._response_issuer,
                asked_at=asked_at,
            )
        except NotUsable as exc:
            return Outcome.inactive(source, str(exc))
        except RecursionError:  # a groups member nested too deep to write as its JSON text
            return Outcome.inactive(source, "claims nested too deeply")
        # RFC 7662 §4: a result must never be relied on past the token's exp, whoever
        # said it was active (the upstream's clock may be behind ours). No clock skew
        # here: an answer "active" with an exp already past would contradict itself, and
        # Strimzi's validator allows none on exp (CONTRACT §2).
        if shaped["exp"] <= now:
            return Outcome.inactive(source, "expired")
        # Revocation events name the token's own subject (the identity provider's user
        # id), whatever principal the answer was normalised to.
        own = claims.get("sub")
        subject = own if isinstance(own, str) and own else None
        try:
            verdict = Verdict.of(shaped, source, subject)
        # Its own name: mypyc types an except clause's variable by the first clause that
        # binds the name (NotUsable above), and a ValueError bound to it was a TypeError.
        except ValueError as unanswerable:  # nested too deep or a lone surrogate
            return Outcome.inactive(source, f"claims cannot be answered: {unanswerable}")
        return Outcome(verdict, source)
