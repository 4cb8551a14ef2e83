"""An access token and the rules that turn a token response into one.

The expiry is the earlier of ``expires_in`` (RFC 6749 §5.1) and the JWT ``exp`` claim when
the token is a JWT, minus a clock-skew margin, so a token is never presented after the
authorization server or broker considers it expired. Nonsense is refused with a clear
:class:`~oauthbearer.errors.TokenResponseError` instead of being handed to librdkafka:
an expiry in the past, or milliseconds where seconds are due (the field's most common bug).

The client does not verify the JWT signature: it is the broker's job, and the client
holds no key for it. Claims are read only for ``exp`` and the principal.

Example:
    >>> t = parse_token_response(b'{"access_token":"abc","expires_in":300}', now=1000.0,
    ...                          endpoint_host="idp.example", clock_skew=30.0)
    >>> t.expires_at, t
    (1270.0, Token(fingerprint='sha256:ba7816bf8f01', expires_at=1270.0, scope=None, sub=None))
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from oauthbearer._json import NOT_JSON
from oauthbearer._jwt import unverified_claims
from oauthbearer._numeric_date import numeric_date
from oauthbearer._secret import fingerprint
from oauthbearer.client.sasl import is_bearer_token
from oauthbearer.errors import TokenResponseError

__all__ = [
    "DEFAULT_LIFETIME",
    "Token",
    "issued_refresh_token",
    "parse_token_response",
    "token_answer",
    "token_from_answer",
]

logger = logging.getLogger("oauthbearer.client")

#: Lifetime assumed when a response has neither ``expires_in`` nor a JWT ``exp``.
DEFAULT_LIFETIME = 300.0
#: The shortest usable lifetime (after the skew margin): a token that expires within a
#: second is refused, not handed to a client that could not log in with it in time.
MIN_LIFETIME = 1.0
# A JWT exp beyond this (year 5138) is milliseconds since the epoch, not seconds.
_EXP_MS_THRESHOLD = 100_000_000_000


@dataclass(frozen=True, slots=True)
class Token:
    """An access token with its expiry (epoch seconds). Its ``repr`` shows a fingerprint only.

    ``expires_at`` already has the clock-skew margin taken off; ``issued_at`` is when the
    client received it. ``claims`` are the unverified JWT payload (empty for opaque tokens).

    Example:
        >>> t = Token("abc", expires_at=1300.0, issued_at=1000.0, claims={"sub": "svc"})
        >>> t.lifetime, t.principal("sub"), "abc" in repr(t)
        (300.0, 'svc', False)
    """

    access_token: str = field(repr=False)
    expires_at: float
    issued_at: float
    scope: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)
    refresh_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))

    def __repr__(self) -> str:
        sub = self.claims.get("sub")
        return (
            f"Token(fingerprint={self.fingerprint!r}, expires_at={self.expires_at!r}, "
            f"scope={self.scope!r}, sub={sub if isinstance(sub, str) else None!r})"
        )

    @property
    def fingerprint(self) -> str:
        """A short SHA-256 label, safe to log and print."""
        return fingerprint(self.access_token)

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.issued_at

    def remaining(self, now: float) -> float:
        """Seconds until expiry at ``now`` (negative when expired)."""
        return self.expires_at - now

    def is_valid(self, now: float) -> bool:
        return now < self.expires_at

    def principal(self, *claims: str) -> str | None:
        """The first of ``claims`` that is a non-empty string in the token, else ``None``."""
        for name in claims:
            value = self.claims.get(name)
            # Printable only: confluent-kafka refuses a principal with a NUL in it (the
            # producer then waits its 10 s for a token and names no cause), and the
            # provider logs the principal, where a newline would forge a line.
            if isinstance(value, str) and value and value.isprintable():
                return value
        return None


def parse_token_response(
    body: bytes,
    *,
    now: float,
    endpoint_host: str,
    clock_skew: float = 30.0,
    max_lifetime: float = 172_800.0,
) -> Token:
    """Turn a successful token endpoint response body (RFC 6749 §5.1) into a :class:`Token`.

    Example:
        >>> parse_token_response(b'{"access_token":"x"}', now=0.0, endpoint_host="h").lifetime
        270.0
    """
    return token_from_answer(
        token_answer(body, endpoint_host=endpoint_host),
        now=now,
        endpoint_host=endpoint_host,
        clock_skew=clock_skew,
        max_lifetime=max_lifetime,
    )


def token_answer(body: bytes, *, endpoint_host: str) -> dict[str, Any]:
    """The JSON object of a successful token response, not yet checked any further.

    Split from :func:`token_from_answer` so that a rotated ``refresh_token`` can be taken
    before the rest of the answer is judged (see the fetcher).

    Example:
        >>> token_answer(b'{"access_token":"x","refresh_token":"r"}', endpoint_host="h")
        {'access_token': 'x', 'refresh_token': 'r'}
    """
    where = f"token endpoint {endpoint_host}"
    try:
        payload = json.loads(body)
    except NOT_JSON:
        raise TokenResponseError(f"{where} answered 2xx with a body that is not JSON") from None
    if not isinstance(payload, dict):
        raise TokenResponseError(f"{where} answered 2xx with JSON that is not an object")
    return payload


def issued_refresh_token(payload: Mapping[str, Any]) -> str | None:
    """The answer's ``refresh_token`` when it is a non-empty string, else None."""
    value = payload.get("refresh_token")
    return value if isinstance(value, str) and value else None


def token_from_answer(
    payload: Mapping[str, Any],
    *,
    now: float,
    endpoint_host: str,
    clock_skew: float = 30.0,
    max_lifetime: float = 172_800.0,
) -> Token:
    """Check the fields of a token response object (RFC 6749 §5.1) and build the Token."""
    where = f"token endpoint {endpoint_host}"
    access_token = payload.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenResponseError(f"{where} answered 2xx without an access_token")
    if not is_bearer_token(access_token):
        raise TokenResponseError(
            f"{where} issued a token with characters outside RFC 6750 §2.1 b64token; "
            "Kafka brokers refuse it"
        )
    token_type = payload.get("token_type")
    # RFC 6749 §7.1: the client must understand the token type; SASL carries bearer only.
    if token_type is not None and (
        not isinstance(token_type, str) or token_type.lower() != "bearer"
    ):
        raise TokenResponseError(f"{where} issued token_type {token_type!r}, not Bearer")

    claims = unverified_claims(access_token)
    candidates: list[float] = []
    expires_in = payload.get("expires_in")
    if expires_in is not None:
        seconds = _number(expires_in)
        if seconds is None:
            raise TokenResponseError(f"{where} sent expires_in={expires_in!r}, not a number")
        if seconds <= 0:
            raise TokenResponseError(f"{where} sent expires_in={expires_in!r}: already expired")
        if seconds > max_lifetime:
            raise TokenResponseError(
                f"{where} sent expires_in={expires_in!r}, longer than the {max_lifetime:g} s "
                "allowed (OAUTHBEARER_LOGIN_MAX_LIFETIME); milliseconds where RFC 6749 §5.1 "
                "wants seconds?"
            )
        candidates.append(now + seconds)
    exp = claims.get("exp")
    if exp is not None:
        exp_number = _number(exp)
        if exp_number is None:
            raise TokenResponseError(f"{where} issued a JWT whose exp={exp!r} is not a number")
        if exp_number > _EXP_MS_THRESHOLD:
            raise TokenResponseError(
                f"{where} issued a JWT with exp={exp!r}: milliseconds where RFC 7519 §4.1.4 "
                "wants seconds"
            )
        if exp_number <= now:
            raise TokenResponseError(
                f"{where} issued a JWT that expired already (exp={exp!r}, local clock "
                f"{now:.0f}); is one of the clocks wrong?"
            )
        # Capped like expires_in (a JWT valid for ten years would otherwise never be
        # refreshed), without refusing it: exp is the token's own, not a unit mistake.
        candidates.append(min(exp_number, now + max_lifetime))
    if not candidates:
        logger.warning(
            "%s sent no expires_in and the token is not a JWT; assuming %g s",
            where,
            DEFAULT_LIFETIME,
        )
        candidates.append(now + DEFAULT_LIFETIME)

    expires_at = min(candidates)  # the earlier wins: never present a token past either
    # Take a skew margin off, but never more than a quarter of a short lifetime.
    expires_at -= min(clock_skew, (expires_at - now) / 4)
    if expires_at - now < MIN_LIFETIME:
        # expires_in 1e-9 passed "> 0" and made a token expired on arrival: every call
        # fetched again, and a producer waited 10 s for a token without a cause logged.
        raise TokenResponseError(
            f"{where} issued a token usable for {max(0.0, expires_at - now):.3g} s, "
            f"less than the {MIN_LIFETIME:g} s a Kafka login needs"
        )
    scope = payload.get("scope")
    if isinstance(scope, list):  # non-standard, but seen: normalise to RFC 6749 §3.3
        scope = " ".join(str(s) for s in scope)
    return Token(
        access_token,
        expires_at=expires_at,
        issued_at=now,
        scope=scope if isinstance(scope, str) and scope else None,
        claims=claims,
        refresh_token=issued_refresh_token(payload),
    )


def _number(value: object) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value.strip())  # some servers send "3600"
        except ValueError:
            return None
    # A JSON number a Java long holds: 10**400 (the standard library reads it) raised
    # OverflowError out of math.isfinite, past every handler, and was fetched again at once.
    number = numeric_date(value)
    return None if number is None else float(number)
