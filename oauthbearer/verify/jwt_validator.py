"""Local verification of JWT access tokens against the JWKS (joserfc behind this module).

What a token must pass, in order (any failure → inactive, with a reason for the log only):

1. compact JWS with a JSON header whose ``alg`` is one of the configured asymmetric
   algorithms — ``none`` and ``HS*`` can never be configured (RFC 8725 §3.1: "libraries
   MUST enable the caller to specify a supported set of algorithms");
2. optional ``typ`` (e.g. ``at+jwt``, RFC 9068 §4; ``application/`` prefix tolerated per
   RFC 7515 §4.1.9);
3. a key from *our* JWKS whose type fits the algorithm (RSA for RS*/PS*, EC on the
   matching curve for ES*, OKP for EdDSA) and whose own ``alg``, if any, matches.
   ``jku``, ``x5u``, ``jwk`` and ``x5c`` headers are never used to find a key — a
   token naming its own key would verify itself (RFC 8725 §3.10);
4. the signature;
5. claims, with ``clock_skew`` tolerance: ``exp`` required and in the future, ``nbf`` not
   in the future, ``iat`` not in the future, ``iss`` equal to the configured issuer,
   ``aud`` (string or array) containing a configured audience.

Example:
    >>> v = JwtValidator(store=None, algorithms=("RS256",), clock=lambda: 0.0)
    >>> v.parse("eyJhbGciOiJSUzI1NiJ9.e30.c2ln").header, v.parse("opaque")
    ({'alg': 'RS256'}, None)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry

from oauthbearer._numeric_date import numeric_date, tolerance
from oauthbearer.verify.compact import (
    MAX_HEADERS,
    CompactJws,
    b64url_decode,
    b64url_json,
    parse,
)
from oauthbearer.verify.jwks import JwksStore
from oauthbearer.verify.signature import SignatureCheck, signature_checks

__all__ = ["CompactJws", "InvalidJwt", "JwtValidator", "b64url_decode"]

Clock = Callable[[], float]


class InvalidJwt(Exception):
    """The token is not a valid JWT for us; the message is a reason fit for logs.

    ``reason`` is a stable word for programs (metrics, the trust chain's rejections):
    ``malformed``, ``signature``, ``expired``, ``not_yet_valid``, ``issuer`` or
    ``audience``. The message may quote the token's header (a ``kid``), never its
    reason word.
    """

    def __init__(self, message: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason


class _Accepted(NamedTuple):
    """A header that passed the checks of its own: what its tokens are verified with."""

    alg: str
    kid: str | None
    # What JWSRegistry.get_alg returns, a JWSAlgModel. Any, not that class: joserfc keeps
    # it private (it may move), and compiled by mypyc (setup.py) a NamedTuple's field
    # types are evaluated at import.
    model: Any


class JwtValidator:
    """Verifies JWT access tokens with keys from a :class:`JwksStore`."""

    def __init__(
        self,
        store: JwksStore | None,
        *,
        algorithms: tuple[str, ...],
        clock: Clock,
        issuer: str | None = None,
        audiences: tuple[str, ...] = (),
        typ: str | None = None,
        clock_skew: float = 30.0,
    ) -> None:
        self._store = store
        self._algorithms = frozenset(algorithms)
        self._clock = clock
        self._issuer = issuer
        self._audiences = frozenset(audiences)
        self._typ = typ.lower().removeprefix("application/") if typ else None
        self._skew = tolerance("clock_skew", clock_skew)  # NaN would skip exp/nbf/iat
        # The registry restricts joserfc to exactly the configured algorithms. Unknown
        # header parameters are tolerated (IdPs add their own, e.g. Azure's "nonce"), but
        # "crit" is still enforced (RFC 7515 §4.1.11).
        self._registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
        # What was judged once need not be judged per token: headers that passed (by
        # segment, bounded like compact.py's decoded headers), and the keys that fit a
        # (kid, alg) for the store's current key set (non-empty lists only: unknown kids
        # are not kept).
        self._accepted: dict[str, _Accepted] = {}
        self._keys: dict[tuple[str | None, str], list[SignatureCheck]] = {}
        self._keys_generation = -1

    @staticmethod
    def parse(token: str) -> CompactJws | None:
        """Three dot-separated segments whose first decodes to a JSON object, else None.

        The result can be handed to :meth:`verify`, so a caller that first asks "is this
        a JWT?" does not decode the header twice. (A method, not ``staticmethod(parse)``
        assigned in the class body: mypyc compiles no such attribute.)
        """
        return parse(token)

    def verify_now(
        self, token: str | CompactJws, *, exp_leeway: float | None = None
    ) -> dict[str, Any] | None:
        """The verified claims of ``token`` when no key has to be fetched for it, else None.

        Raises :class:`InvalidJwt` like :meth:`verify`. None means "ask :meth:`verify`":
        no key set was loaded yet, or the token names a ``kid`` we lack and a refetch may
        bring it. A token judged here costs no await, so the sidecar answers it without
        the per-caller limit that guards fetches (nothing here waits on anyone).
        """
        store, jws, accepted = self._with_header(token)
        if not store.loaded:
            return None
        candidates = self._keys_for(store, accepted)
        if not candidates:
            if accepted.kid is not None:
                return None
            raise InvalidJwt(f"no key for kid None and alg {accepted.alg}", "signature")
        return self._verified(jws, accepted, candidates, exp_leeway)

    async def verify(
        self,
        token: str | CompactJws,
        *,
        exp_leeway: float | None = None,
        exp_at: float | None = None,
    ) -> dict[str, Any]:
        """The verified claims of ``token``; raises :class:`InvalidJwt` otherwise.

        ``token`` may be what :meth:`parse` returned for it. ``exp_leeway`` replaces the
        clock skew for ``exp`` alone (a grace period must not loosen ``nbf``/``iat``), and
        ``exp_at`` is the instant ``exp`` alone is judged at (a Kafka record's time:
        ``nbf`` and ``iat`` stay judged at now, since a token issued after its record
        was written is not "from the future"). Raises
        :class:`~oauthbearer.errors.UpstreamUnavailable` only when no key was ever loaded
        and the JWKS cannot be fetched, or when the token names a ``kid`` we lack and the
        JWKS cannot be fetched to look for it: then we cannot judge at all (→ 503).
        """
        store, jws, accepted = self._with_header(token)
        if not store.loaded:
            await store.load_first()  # UpstreamUnavailable: we cannot judge yet
        candidates = self._keys_for(store, accepted)
        # A kid we lack, and the JWKS cannot be reached to look for it: the issuer may have
        # rotated its key, so there is no verdict (UpstreamUnavailable → 503, the caller
        # retries), not a forgery. A refetch skipped because one was just made is an
        # answer: the kid is not there.
        if (
            not candidates
            and accepted.kid is not None
            and await store.refetch_for_unknown_kid(accepted.kid)
        ):
            candidates = self._keys_for(store, accepted)
        if not candidates:
            raise InvalidJwt(f"no key for kid {accepted.kid!r} and alg {accepted.alg}", "signature")
        return self._verified(jws, accepted, candidates, exp_leeway, exp_at)

    def _with_header(self, token: str | CompactJws) -> tuple[JwksStore, CompactJws, _Accepted]:
        """The key store, the token split, and what its header allows (judged once per
        header segment); :class:`InvalidJwt` without a store or for a refused header."""
        store = self._store
        if store is None:
            raise InvalidJwt("no JWKS configured")
        jws = parse(token) if isinstance(token, str) else token  # no wrapper frame per token
        if jws is None:
            raise InvalidJwt("not a compact JWS with a JSON object header")
        segment = jws.segments[0]
        accepted = self._accepted.get(segment)
        if accepted is None:
            accepted = self._accept(jws.header)
            if len(self._accepted) >= MAX_HEADERS:
                self._accepted.clear()
            self._accepted[segment] = accepted
        return store, jws, accepted

    def _verified(
        self,
        jws: CompactJws,
        accepted: _Accepted,
        candidates: list[SignatureCheck],
        exp_leeway: float | None,
        exp_at: float | None = None,
    ) -> dict[str, Any]:
        """The signature against ``candidates``, then the claims: :class:`InvalidJwt` if not."""
        header, payload, signature_segment = jws.segments
        try:
            signature = b64url_decode(signature_segment)
        except (ValueError, UnicodeEncodeError) as exc:
            raise InvalidJwt(f"malformed JWS: {type(exc).__name__}") from None
        try:
            signing_input = f"{header}.{payload}".encode("ascii")
        except UnicodeEncodeError:  # base64url is ASCII: such a token is not a JWS
            raise InvalidJwt("malformed JWS: not ASCII") from None
        for check in candidates:  # a loop, not any() over a generator: no frame per token
            if check(signing_input, signature):
                break
        else:
            raise InvalidJwt("signature does not verify", "signature")
        claims = b64url_json(payload)
        if not isinstance(claims, dict):
            raise InvalidJwt("payload is not a JSON object")
        self._check_claims(claims, self._skew if exp_leeway is None else exp_leeway, exp_at)
        return claims

    def _accept(self, header: dict[str, Any]) -> _Accepted:
        """Judge a header on its own (alg, typ, kid, b64, crit); :class:`InvalidJwt` if not."""
        # Quoted only when a string: repr() of a value nested a thousand deep (an
        # unsigned header anyone can write) raised RecursionError, a 500.
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise InvalidJwt("alg is not a string")
        if alg not in self._algorithms:
            raise InvalidJwt(f"alg {alg!r} not allowed")
        if self._typ is not None:
            typ = header.get("typ")
            if not isinstance(typ, str):
                raise InvalidJwt("typ is not a string")
            if typ.lower().removeprefix("application/") != self._typ:
                raise InvalidJwt(f"typ {typ!r} not accepted")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidJwt("kid is not a string")
        if header.get("b64", True) is not True:
            raise InvalidJwt("unencoded payload (b64) not accepted")  # RFC 7797: not a JWT
        # RFC 7515 §4.1.11: a non-empty array of names. Judged here because joserfc
        # iterates whatever it is given: a number raised TypeError, a 500 for a header
        # anyone can write.
        crit = header.get("crit")
        if "crit" in header and not (
            isinstance(crit, list) and crit and all(isinstance(name, str) for name in crit)
        ):
            raise InvalidJwt("crit is not a non-empty array of names")
        # joserfc judges the registered parameters' types and "crit". The compact form is
        # split and decoded by us, once: handing joserfc the whole token (jwt.decode)
        # parsed it all again and cost a third of a cold decision in profiles.
        try:
            self._registry.check_header(header)
            model = self._registry.get_alg(alg)
        except (JoseError, ValueError, TypeError) as exc:  # TypeError: a value of a type
            # joserfc does not expect, in a header we have not vouched for
            raise InvalidJwt(f"malformed JWS: {type(exc).__name__}") from None
        return _Accepted(alg, kid, model)

    def _keys_for(self, store: JwksStore, accepted: _Accepted) -> list[SignatureCheck]:
        """Signature checks by the keys of ``store`` that fit the header's alg (type, curve,
        own alg, use) and kid."""
        if self._keys_generation != store.generation:
            self._keys.clear()
            self._keys_generation = store.generation
        alg, kid, model = accepted
        keys = self._keys.get((kid, alg))
        if keys is None:
            keys = signature_checks(alg, model, store.keys_for(kid))
            if keys:
                self._keys[(kid, alg)] = keys
        return keys

    def _check_claims(
        self, claims: dict[str, Any], exp_leeway: float, exp_at: float | None = None
    ) -> None:
        now = self._clock()
        exp = numeric_date(claims.get("exp"))
        if exp is None:
            raise InvalidJwt("exp missing or not a number")
        if (now if exp_at is None else exp_at) >= exp + exp_leeway:
            raise InvalidJwt("expired", "expired")
        if "nbf" in claims:
            nbf = numeric_date(claims["nbf"])
            if nbf is None or nbf > now + self._skew:
                raise InvalidJwt("not yet valid (nbf)", "not_yet_valid")
        if "iat" in claims:
            iat = numeric_date(claims["iat"])
            if iat is None or iat > now + self._skew:
                raise InvalidJwt("issued in the future (iat)", "not_yet_valid")
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise InvalidJwt("issuer mismatch", "issuer")
        audiences = self._audiences
        if audiences:
            aud = claims.get("aud")
            if isinstance(aud, str):  # one audience, the common case: no list, no loop
                if aud not in audiences:
                    raise InvalidJwt("audience mismatch", "audience")
            elif not isinstance(aud, list) or not any(
                isinstance(a, str) and a in audiences for a in aud
            ):
                raise InvalidJwt("audience mismatch", "audience")
