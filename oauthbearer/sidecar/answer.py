"""The answer to one introspection request, whatever carried it (status, headers, body).

Caller authentication (Basic, bearer or an mTLS certificate), the body and its one token
parameter, the cache, the per-caller limit on fresh decisions, and the decision log:
everything between the bytes :mod:`oauthbearer.sidecar.fastpath` reads off the wire and
the bytes it writes back. No HTTP framework here: :meth:`IntrospectionAnswer.answer_now`
answers from a body at hand without any I/O (the HTTP protocol calls it, see
:mod:`oauthbearer.sidecar.direct`), and calling the instance answers anything (the ASGI
path).

Example (a :class:`~oauthbearer.sidecar.instance.Sidecar` builds one as ``.answer``):
    >>> import asyncio
    >>> from oauthbearer.sidecar.instance import Sidecar
    >>> from oauthbearer.sidecar.settings import SidecarSettings
    >>> sidecar = Sidecar(SidecarSettings(jwks_url="https://idp.example/jwks"))
    >>> async def body() -> bytes:
    ...     return b"token=not-a-jwt"
    >>> asyncio.run(sidecar.answer("Basic bm8tb25lOmF0LWFsbA==", body, ms=False))[0]
    401
    >>> anonymous = Sidecar(SidecarSettings(jwks_url="https://idp.example/jwks",
    ...                                     allow_anonymous=True))
    >>> asyncio.run(anonymous.answer(None, body, ms=False))  # no upstream for opaque tokens
    (200, [], b'{"active":false}')
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from oauthbearer.errors import UpstreamUnavailable
from oauthbearer.sidecar.callers import CallerAuthenticator
from oauthbearer.sidecar.decision_log import DecisionLog
from oauthbearer.sidecar.fastpath import Answer, BodyTooLarge
from oauthbearer.sidecar.introspector import Introspector, Outcome
from oauthbearer.sidecar.limits import CallerLimited, CallerLimits
from oauthbearer.sidecar.metrics import Metrics
from oauthbearer.sidecar.request import MalformedRequest, parse_token
from oauthbearer.sidecar.response import render_milliseconds
from oauthbearer.sidecar.verdict import token_key

__all__ = ["IntrospectionAnswer"]

_BASIC_CHALLENGE = b'Basic realm="oauthbearer-introspection", charset="UTF-8"'
_BEARER_CHALLENGE = b'Bearer realm="oauthbearer-introspection"'


def _error(status: int, error: str, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    return status, headers or [], json.dumps({"error": error}).encode()


class _NeedsIo(NamedTuple):
    """A token to judge with I/O (upstream, JWKS fetch) under the caller's limit."""

    token: str
    key: bytes


class Replayed(Protocol):
    """What says whether the revocation topics' history is applied yet
    (:class:`~oauthbearer.sidecar.revocation.service.Revocations`)."""

    replayed: bool


class IntrospectionAnswer:
    """Answers introspection requests with the sidecar's components (see :class:`Sidecar`).

    ``revocations``: until its ``replayed`` is true, no token is answered active (503
    instead). A sidecar beside its broker is called on loopback whether or not ``/readyz``
    says ready, so readiness alone would let a token revoked on the topics through while
    their history is still being read after a (re)start.
    """

    def __init__(
        self,
        *,
        callers: CallerAuthenticator,
        limits: CallerLimits,
        introspector: Introspector,
        metrics: Metrics,
        decisions: DecisionLog,
        token_params: tuple[str, ...],
        revocations: Replayed | None = None,
    ) -> None:
        self._callers = callers
        self._limits = limits
        self._introspector = introspector
        self._metrics = metrics
        self._decisions = decisions
        self._token_params = token_params
        self._revocations = revocations

    def answer_now(
        self,
        authorization: str | None,
        body: bytes,
        *,
        ms: bool,
        client_cert: str | None = None,
    ) -> Answer | None:
        """The answer to a request whose whole ``body`` is at hand, if it needs no I/O.

        A refusal (401, 400), a cache hit and a JWT whose keys are loaded are answered
        here, synchronously: :mod:`oauthbearer.sidecar.http_protocol` calls this from
        the HTTP parser's callback, with no ASGI cycle or task. None means the request
        needs an upstream call, a JWKS fetch or a place under the per-caller limit: the
        caller then hands it to :meth:`__call__`, which judges it from the start.
        """
        started = time.perf_counter()
        caller = self._caller(authorization, client_cert)
        if caller is None:
            return self._unauthorized(started, authorization)
        answer = self._answer_without_io(caller, body, started, ms)
        if isinstance(answer, _NeedsIo):
            # Handed on to __call__, which looks the token up again and counts that look:
            # counted here too, every cold request was two misses in the hit ratio.
            self._introspector.cache.uncount_miss()
            return None
        return answer

    async def __call__(
        self,
        authorization: str | None,
        read_body: Callable[[], Awaitable[bytes]],
        *,
        ms: bool,
        client_cert: str | None = None,
    ) -> Answer:
        """The introspection answer for one request: status, extra headers, body.

        Transport-free: :mod:`oauthbearer.sidecar.fastpath` feeds it from raw ASGI.
        ``ms`` renders ``exp``/``iat`` in milliseconds (jairsjunior on Kafka ≥ 3.3).
        """
        started = time.perf_counter()
        caller = self._caller(authorization, client_cert)
        if caller is None:
            return self._unauthorized(started, authorization)
        try:
            body = await read_body()
        except BodyTooLarge:
            self._metrics.request("too_large", "none")
            self._decisions.decision(caller, None, "too_large", "none", started, "body over limit")
            return _error(413, "invalid_request")
        answer = self._answer_without_io(caller, body, started, ms)
        if not isinstance(answer, _NeedsIo):
            return answer
        token, key = answer
        try:
            decide = self._introspector.decide
            outcome = await self._limits.call(caller, token, decide, token, key)
        except UpstreamUnavailable as exc:
            self._metrics.request("unavailable", "upstream")
            self._decisions.decision(
                caller, token, "unavailable", "upstream", started, str(exc), key=key
            )
            return _error(503, "temporarily_unavailable", [(b"retry-after", b"1")])
        except CallerLimited as exc:
            # RFC 6585 §4: this caller's own excess, not an outage (see limits.py).
            self._metrics.request("limited", "none")
            self._decisions.decision(caller, token, "limited", "none", started, str(exc), key=key)
            retry_after = str(exc.retry_after).encode()
            return _error(429, "temporarily_unavailable", [(b"retry-after", retry_after)])
        return self._answered(caller, token, key, outcome, started, ms)

    def _answer_without_io(
        self, caller: str, body: bytes, started: float, ms: bool
    ) -> Answer | _NeedsIo:
        """The answer for ``body`` if it needs no I/O: a 400, a hit, a JWT with its keys.

        Hits and such JWTs are answered before the caller's limit: they cost no upstream
        capacity and nothing waits. Anything else is :class:`_NeedsIo`.
        """
        token = self._token(caller, body, started)
        if not isinstance(token, str):
            return token
        key = token_key(token)
        introspector = self._introspector
        outcome = introspector.lookup(key) or introspector.decide_now(token, key)
        if outcome is None:
            return _NeedsIo(token, key)
        return self._answered(caller, token, key, outcome, started, ms)

    def _not_replayed(self, caller: str, token: str, key: bytes, started: float) -> Answer:
        # The broker's login fails and is retried (both plugins treat a 503 as a failed
        # introspection); the replay takes seconds (README, "Many replicas").
        self._metrics.request("unavailable", "none")
        reason = "revocation topics not replayed yet"
        self._decisions.decision(caller, token, "unavailable", "none", started, reason, key=key)
        return _error(503, "temporarily_unavailable", [(b"retry-after", b"1")])

    def _caller(self, authorization: str | None, client_cert: str | None) -> str | None:
        if client_cert is not None and (authorization is None or not authorization.strip()):
            # mTLS: the handshake verified this certificate against the client CA.
            return f"cert:{client_cert}"
        return self._callers.authenticate(authorization)

    def _unauthorized(self, started: float, authorization: str | None) -> Answer:
        self._metrics.request("unauthorized", "none")
        # Why, for the operator (which broker's secret is stale); never on the wire.
        reason = f"caller not authenticated: {self._callers.why_refused(authorization)}"
        self._decisions.decision(None, None, "unauthorized", "none", started, reason)
        # RFC 7662 §2.3 → RFC 6749 §5.2: invalid client authentication is a 401 whose
        # challenge matches the scheme the client used (Strimzi may send a static Bearer
        # token); Basic for a client that sent none.
        scheme = authorization.lstrip()[:7].lower() if authorization else ""
        challenge = _BEARER_CHALLENGE if scheme == "bearer " else _BASIC_CHALLENGE
        return _error(401, "invalid_client", [(b"www-authenticate", challenge)])

    def _token(self, caller: str, body: bytes, started: float) -> str | Answer:
        """The one token parameter of ``body``, or the 400 answer refusing it."""
        try:
            return parse_token(body, self._token_params)
        except MalformedRequest as exc:
            self._metrics.request("invalid_request", "none")
            self._decisions.decision(caller, None, "invalid_request", "none", started, str(exc))
            return _error(400, "invalid_request")

    def _answered(
        self, caller: str, token: str, key: bytes, outcome: Outcome, started: float, ms: bool
    ) -> Answer:
        """Count and log ``outcome``, and turn it into the 200 answer."""
        verdict, source, reason = outcome
        result = "inactive" if verdict.exp is None else "active"  # Verdict.active, inlined
        if result == "active" and self._revocations is not None and not self._revocations.replayed:
            return self._not_replayed(caller, token, key, started)
        self._metrics.answered(result, source)
        if source == "cache" and reason is None:
            self._decisions.hit(caller, token, result, verdict.sub, started, key=key)
        else:
            self._decisions.decision(
                caller, token, result, source, started, reason, verdict.sub, key=key
            )
        return 200, [], render_milliseconds(verdict.body) if ms else verdict.body
