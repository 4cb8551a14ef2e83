"""Async token verifiers: local JWT/JWKS, or RFC 7662 introspection (our sidecar or any).

Both answer the same question — is this token good, its ``exp`` *judged at time* ``at``
with ``leeway`` (default: the verifier's clock skew) plus ``grace`` seconds of tolerance?
— and return :class:`VerifiedClaims` or raise
:class:`~oauthbearer.errors.TokenRejected` (the token is bad) or
:class:`~oauthbearer.errors.UpstreamUnavailable` (no verdict: retry, do not drop).

Signature, issuer and audience are always checked: ``issuer`` and ``audiences`` are
required arguments, and an introspection answer without ``iss`` or ``aud`` is refused.

* :class:`JwksVerifier` wraps the sidecar's own :class:`~oauthbearer.verify.JwtValidator`
  and :class:`~oauthbearer.verify.JwksStore`. ``at`` is when ``exp`` is judged (for a
  record: its timestamp); ``nbf`` and ``iat`` are judged at now, with the clock skew only
  (a token issued after its record was written is not from the future, and a record's
  time gives no licence to a token not yet valid). Keys are refreshed lazily every
  ``refresh_interval`` on use,
  and at once for an unknown ``kid`` (rate-limited), so no background task is needed.
* :class:`IntrospectionVerifier` asks an RFC 7662 endpoint. The authorization server
  judges at *its* now: an expired token is inactive there, whatever ``at`` says, so a
  grace period cannot revive a token through introspection.

A verifier belongs to one event loop (httpx's pool and asyncio primitives bind to it).
Sync code uses :class:`~oauthbearer.trustchain.blocking.BlockingVerifier`.

Example:
    >>> v = JwksVerifier("https://idp.example/jwks", issuer="https://idp.example",
    ...                  audiences="urn:orders")
    >>> import asyncio
    >>> asyncio.run(v.verify("not-a-jwt"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    oauthbearer.errors.TokenRejected: token sha256:... refused (malformed): not a JWT...
    >>> asyncio.run(v.aclose())
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx

from oauthbearer._numeric_date import numeric_date, tolerance
from oauthbearer._secret import Secret, SecretSource, fingerprint
from oauthbearer.errors import ConfigurationError, TokenRejected, UpstreamUnavailable
from oauthbearer.trustchain.claims import VerifiedClaims
from oauthbearer.verify.jwks import JwksStore
from oauthbearer.verify.jwt_validator import InvalidJwt, JwtValidator
from oauthbearer.verify.upstream import UpstreamIntrospector

__all__ = ["DEFAULT_ALGORITHMS", "IntrospectionVerifier", "JwksVerifier", "Verifier"]

Clock = Callable[[], float]

#: Asymmetric algorithms only: RFC 8725 §3.1, and HS* would let a JWKS secret sign tokens.
DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


class Verifier(Protocol):
    """What :func:`~oauthbearer.trustchain.records.verify_record_async` and the middleware use."""

    async def verify(
        self,
        token: str,
        *,
        at: float | None = None,
        leeway: float | None = None,
        grace: float = 0.0,
    ) -> VerifiedClaims:
        """Claims of ``token``, its ``exp`` judged at ``at`` (epoch seconds; None: now).

        The tolerance on ``exp`` is ``leeway`` (None: the verifier's clock skew) plus
        ``grace``.
        """
        ...

    async def aclose(self) -> None:
        """Release the HTTP client if the verifier created it."""
        ...


def _audiences(audiences: str | Sequence[str]) -> tuple[str, ...]:
    values = (audiences,) if isinstance(audiences, str) else tuple(audiences)
    if not values or not all(values):
        raise ConfigurationError("audiences", "at least one non-empty audience is required")
    return values


def _issuer(issuer: str) -> str:
    if not issuer:
        raise ConfigurationError("issuer", "is required: the issuer is always checked")
    return issuer


class JwksVerifier:
    """Verifies JWTs locally against the authorization server's JWKS.

    ``client`` is the test seam and the way to share a pool; one is created (and closed
    by :meth:`aclose`) when omitted. ``clock_skew`` is the default ``leeway``.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audiences: str | Sequence[str],
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        typ: str | None = None,
        clock_skew: float = 30.0,
        client: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
        refresh_interval: float = 300.0,
        min_refetch_interval: float = 10.0,
        timeout: float = 3.0,
    ) -> None:
        self._issuer = _issuer(issuer)
        self._audiences = _audiences(audiences)
        self._algorithms = tuple(algorithms)
        self._typ = typ
        self._skew = tolerance("clock_skew", clock_skew)
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._store = JwksStore(
            jwks_url,
            client=self._client,
            clock=clock,
            refresh_interval=refresh_interval,
            min_refetch_interval=min_refetch_interval,
            timeout=timeout,
        )
        self._refresh_interval = refresh_interval
        self._loaded_at: float | None = None
        # nbf/iat always get clock_skew; a call's leeway (clock skew + a record's grace)
        # applies to exp alone.
        self._validator = JwtValidator(
            self._store,
            algorithms=self._algorithms,
            clock=clock,
            issuer=self._issuer,
            audiences=self._audiences,
            typ=self._typ,
            clock_skew=clock_skew,
        )

    async def _keep_keys_fresh(self) -> None:
        now = self._clock()
        if self._loaded_at is None:
            await self._store.refresh()  # UpstreamUnavailable: no keys, no verdict
            self._loaded_at = now
        elif now - self._loaded_at >= self._refresh_interval:
            self._loaded_at = now
            # A failed refresh keeps the previous keys: an IdP blip must not stop us.
            with contextlib.suppress(UpstreamUnavailable):
                await self._store.refresh()

    async def verify(
        self,
        token: str,
        *,
        at: float | None = None,
        leeway: float | None = None,
        grace: float = 0.0,
    ) -> VerifiedClaims:
        """Claims of a JWT whose signature, ``iss``, ``aud``, ``exp``/``nbf``/``iat`` pass.

        ``leeway`` (default: ``clock_skew``) plus ``grace`` is the tolerance on ``exp``,
        judged at ``at``; ``nbf`` and ``iat`` are judged at now with ``clock_skew``, so a
        record's time and grace cannot loosen them.
        """
        label = fingerprint(token)
        jws = JwtValidator.parse(token)
        if jws is None:
            raise TokenRejected(
                "malformed",
                "not a JWT (verify opaque tokens with IntrospectionVerifier)",
                fingerprint=label,
            )
        await self._keep_keys_fresh()
        exp_leeway = _exp_tolerance(self._skew, leeway, grace)
        try:
            claims = await self._validator.verify(jws, exp_leeway=exp_leeway, exp_at=at)
        except InvalidJwt as exc:
            raise TokenRejected(exc.reason, str(exc), fingerprint=label) from None
        return VerifiedClaims(claims, token=token)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _exp_tolerance(skew: float, leeway: float | None, grace: float) -> float:
    return (skew if leeway is None else tolerance("leeway", leeway)) + tolerance("grace", grace)


class IntrospectionVerifier:
    """Asks an RFC 7662 endpoint — our sidecar, or the authorization server directly.

    ``authorization`` is the whole ``Authorization`` header value the endpoint expects
    (the sidecar's ``OAUTHBEARER_CALLERS`` credentials as ``Basic …``).
    """

    def __init__(
        self,
        url: str,
        *,
        issuer: str,
        audiences: str | Sequence[str],
        authorization: str | SecretSource | None = None,
        clock_skew: float = 30.0,
        client: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
        timeout: float = 3.0,
    ) -> None:
        self._issuer = _issuer(issuer)
        self._audiences = frozenset(_audiences(audiences))
        self._skew = tolerance("clock_skew", clock_skew)
        self._clock = clock
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        secret = Secret(authorization) if isinstance(authorization, str) else authorization
        self._upstream = UpstreamIntrospector(
            url, client=self._client, authorization=secret, timeout=timeout
        )

    async def verify(
        self,
        token: str,
        *,
        at: float | None = None,
        leeway: float | None = None,
        grace: float = 0.0,
    ) -> VerifiedClaims:
        """Claims of an active token whose ``iss`` and ``aud`` are ours and ``exp`` holds."""
        label = fingerprint(token)
        answer = await self._upstream.introspect(token)  # UpstreamUnavailable passes
        # RFC 7662 §2.2: an inactive answer says nothing about why (expired, revoked, unknown).
        if answer["active"] is not True:
            raise TokenRejected(
                "inactive",
                "the introspection endpoint says the token is not active "
                "(expired, revoked or unknown)",
                fingerprint=label,
            )
        claims: dict[str, Any] = {k: v for k, v in answer.items() if k != "active"}
        if claims.get("iss") != self._issuer:
            detail = "issuer mismatch" if "iss" in claims else "answer has no iss to check"
            raise TokenRejected("issuer", detail, fingerprint=label)
        aud = claims.get("aud")
        values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and a in self._audiences for a in values):
            detail = "audience mismatch" if values else "answer has no aud to check"
            raise TokenRejected("audience", detail, fingerprint=label)
        exp = numeric_date(claims.get("exp"))
        now = self._clock() if at is None else at
        allowed = _exp_tolerance(self._skew, leeway, grace)
        if exp is not None and now >= exp + allowed:
            raise TokenRejected("expired", "expired", fingerprint=label)
        return VerifiedClaims(claims, token=token)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
