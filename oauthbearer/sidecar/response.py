"""Shaping verdicts into the introspection answer both broker plugins can digest.

CONTRACT.md §4 is the specification. An active answer always has ``active: true``, an
integer ``exp`` and ``iat`` (``iat`` synthesised when the source has none — jairsjunior's
handler crashes without it), a non-empty string ``sub`` (jairsjunior makes it the
principal; where it comes from is configurable, see :mod:`oauthbearer.sidecar.claims`),
``scope`` as a space-separated string, ``groups`` when configured, and passes every other
claim through (``iss``, ``aud``, ``client_id``, ``username``,
``token_type``, ``nbf``, ``jti``, extensions).

RFC 7662 §2.2: "If the introspection call is properly authorized but the token is not
active, does not exist on this server, or the protected resource is not allowed to
introspect this particular token, then the authorization server MUST return an
introspection response with the 'active' field set to 'false'" — and we return nothing
else, so an inactive answer says nothing about *why*.

Example:
    >>> from oauthbearer.sidecar.claims import DEFAULT_CLAIM_RULES
    >>> claims = normalize({"active": True, "exp": 2000.0, "client_id": "app",
    ...                     "scope": ["a", "b"]}, now=1000.0, rules=DEFAULT_CLAIM_RULES,
    ...                     default_lifetime=60.0, response_issuer=None)
    >>> claims["sub"], claims["exp"], claims["iat"], claims["scope"]
    ('app', 2000, 1000, 'a b')
    >>> render(None)
    b'{"active":false}'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oauthbearer import _json
from oauthbearer._numeric_date import numeric_date
from oauthbearer.sidecar.claims import ClaimRules

__all__ = ["INACTIVE_BODY", "NotUsable", "normalize", "render", "render_milliseconds"]

#: The whole body of every inactive answer (RFC 7662 §2.2).
INACTIVE_BODY = b'{"active":false}'


class NotUsable(ValueError):
    """Active claims we cannot turn into a contract-conforming answer (reason for logs)."""


def _seconds(value: object) -> int | None:
    number = numeric_date(value)  # a number a broker can read, or None
    return None if number is None else int(number)


def normalize(
    claims: Mapping[str, Any],
    *,
    now: float,
    rules: ClaimRules,
    default_lifetime: float,
    response_issuer: str | None,
    asked_at: float | None = None,
) -> dict[str, Any]:
    """Turn the claims of an active token into the answer's claim set.

    ``exp`` missing (or null) from an upstream answer is synthesised as ``now + default_lifetime``
    (the cache TTL) so the peers always get an integer, and ``iat`` as ``asked_at`` (when
    the question was put), else ``now``. Raises :class:`NotUsable` when
    the claims cannot honour the contract (no subject, ``exp`` not a number), which the
    caller treats as inactive: an answer we cannot shape is not a verified answer.
    """
    out: dict[str, Any] = dict(claims)  # copied in C, order kept (a comprehension: 1 µs)
    out.pop("active", None)

    # null is no value (servers that serialise every field write "exp": null), as absent.
    if claims.get("exp") is not None:
        exp = _seconds(claims["exp"])
        if exp is None:
            raise NotUsable("exp is not a number")
    else:
        exp = int(now + default_lifetime)
    out["exp"] = exp

    iat = _seconds(claims.get("iat"))
    out["iat"] = iat if iat is not None else int(now if asked_at is None else asked_at)

    if claims.get("nbf") is not None:
        nbf = _seconds(claims["nbf"])
        if nbf is None:
            raise NotUsable("nbf is not a number")
        out["nbf"] = nbf
    else:
        out.pop("nbf", None)

    sub = rules.principal_of(claims)
    if sub is None:
        raise NotUsable("no principal: none of the principal claims holds a string")
    # The normalised claims replace what would contradict them; every other claim stays.
    out["sub"] = sub
    # RFC 7662 §2.2: scope is "a JSON string containing a space-separated list of scopes".
    scope = rules.scope_of(claims)
    if scope is None:
        out.pop("scope", None)
    else:
        out["scope"] = scope
    groups = rules.groups_of(claims)
    if groups is not None:
        out["groups"] = groups

    if response_issuer is not None:
        out["iss"] = response_issuer
    return out


def render(claims: Mapping[str, Any] | None) -> bytes:
    """The JSON body for a verdict: ``None`` is inactive."""
    if claims is None:
        return INACTIVE_BODY
    return _json.dumps({"active": True, **claims})


def render_milliseconds(body: bytes) -> bytes:
    """The same answer with ``exp`` and ``iat`` in milliseconds.

    The opt-in compatibility mode for jairsjunior's handler on Kafka ≥ 3.3 (KAFKA-13848,
    CONTRACT.md §1): the handler hands ``exp`` to Kafka as if it were milliseconds, so
    multiplying by 1000 yields the right session lifetime. It breaks RFC 7662 for everyone
    else, hence its own path. Inactive answers are returned as they are.

    Example:
        >>> render_milliseconds(b'{"active":true,"sub":"a","exp":2000,"iat":1000}')
        b'{"active":true,"sub":"a","exp":2000000,"iat":1000000}'
    """
    if body == INACTIVE_BODY:
        return body
    answer: dict[str, Any] = _json.loads(body)
    answer["exp"] *= 1000
    answer["iat"] *= 1000
    if numeric_date(answer["exp"]) is None or numeric_date(answer["iat"]) is None:
        # Past a Java long in milliseconds (an exp after the year 292 million in
        # seconds): a date neither plugin can read, so no date (see _numeric_date).
        return INACTIVE_BODY
    return _json.dumps(answer)
