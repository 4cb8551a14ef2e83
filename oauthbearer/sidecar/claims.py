"""Where each identity provider keeps the principal, the groups and the scopes.

Brokers authorise by principal (``sub``, which jairsjunior's handler takes as is and
Strimzi's by default) and, with Strimzi's authorizers, by groups; scopes must be one
space-separated string. Identity providers put them in different places — Keycloak's
service account is a UUID in ``sub`` and a name in ``preferred_username``, Entra ID's
application is ``azp``/``appid``, Okta's scopes are an ``scp`` array, Cognito's groups
are ``cognito:groups``. :class:`ClaimRules` says where to look, and the sidecar's answer
carries one normalised ``sub``, ``groups`` and ``scope`` for JWKS-verified and
upstream-introspected tokens alike.

A claim path is one of:

* a top-level claim name, tried whole first (``cognito:groups``,
  ``https://ns.example/roles``), then as a dotted path into nested objects
  (``realm_access.roles``, ``resource_access.kafka.roles``);
* Strimzi's bracketed form, for names that hold dots themselves:
  ``[resource_access].['kafka.broker'].[roles]`` (``oauth.username.claim`` syntax).

Values are read as Strimzi's validator reads them: a principal that is a number is its
decimal text; groups given as one string are split on a delimiter (``,`` like Strimzi's
``oauth.groups.claim.delimiter``), and a group that is not a string is its JSON text.

Example:
    >>> rules = ClaimRules(principal=("preferred_username",), fallback="client_id",
    ...                    fallback_prefix="service-account-", groups="realm_access.roles")
    >>> claims = {"sub": "9f1c…", "client_id": "orders", "realm_access": {"roles": ["writers"]}}
    >>> rules.principal_of(claims), rules.groups_of(claims)
    ('service-account-orders', ['writers'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["DEFAULT_CLAIM_RULES", "ClaimRules", "check_claim_path", "lookup"]


def check_claim_path(path: str) -> None:
    """Raise :class:`ValueError` (a reason fit for a configuration error) if ``path``
    is a bracketed path that does not parse.

    Example:
        >>> check_claim_path("[resource_access].['kafka.broker'].[roles]")
        >>> check_claim_path("[resource_access].['kafka")
        Traceback (most recent call last):
        ValueError: "[resource_access].['kafka": a '[' without its ']'
    """
    if path.startswith("["):
        _bracketed(path)


@lru_cache(maxsize=256)
def _bracketed(path: str) -> tuple[str, ...]:
    """The names of a path in Strimzi's bracketed form, ``[a].['b.c']``."""
    names: list[str] = []
    rest = path
    while True:
        rest = rest.lstrip(" ")
        if not rest.startswith("["):
            raise ValueError(f"{path!r}: expected '[' before {rest!r}")
        end = rest.find("]")
        if end < 0:
            raise ValueError(f"{path!r}: a '[' without its ']'")
        name = rest[1:end].strip()
        if name.startswith("'"):
            if len(name) < 2 or not name.endswith("'"):
                raise ValueError(f"{path!r}: a quote without its closing quote")
            name = name[1:-1]
        if not name:
            raise ValueError(f"{path!r}: an empty name in '[]'")
        names.append(name)
        rest = rest[end + 1 :].lstrip(" ")
        if not rest:
            return tuple(names)
        if not rest.startswith("."):
            raise ValueError(f"{path!r}: expected '.' before {rest!r}")
        rest = rest[1:]


def lookup(claims: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (see the module's note on paths), or None.

    Example:
        >>> lookup({"resource_access": {"kafka": {"roles": ["r"]}}}, "resource_access.kafka.roles")
        ['r']
        >>> lookup({"cognito:groups": ["g"]}, "cognito:groups")
        ['g']
        >>> lookup({"resource_access": {"kafka.broker": {"roles": ["r"]}}},
        ...        "[resource_access].['kafka.broker'].[roles]")
        ['r']
    """
    if path in claims:
        return claims[path]
    names = _bracketed(path) if path.startswith("[") else path.split(".")
    value: Any = claims
    for name in names:
        if not isinstance(value, Mapping) or name not in value:
            return None
        value = value[name]
    return value


def _principal(value: Any) -> str | None:
    """A principal read as Strimzi reads it (JSON text): a non-empty string, or a number's
    decimal text (Okta's and Cognito's numeric ids); anything else is no principal."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _scopes(value: Any) -> list[str] | None:
    """Scopes from a space-separated string (RFC 6749 §3.3) or an array of strings."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item for item in value if item]
    return None


def _groups(value: Any, delimiter: str) -> list[str]:
    """Groups as Strimzi's ``JSONUtil.asListOfString`` reads them: a string split on
    ``delimiter`` and trimmed, an array's strings as they are and its other elements as
    their JSON text (a group ``"Kafka Admins"`` stays whole; a number does not void the
    rest). Empty names are dropped; anything else is no groups."""
    if isinstance(value, str):
        items = [item.strip() for item in value.split(delimiter)]
    elif isinstance(value, list):
        items = [
            item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
            for item in value
        ]
    else:
        return []
    return [item for item in items if item]


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """How the answer's ``sub``, ``groups`` and ``scope`` are found in a token's claims.

    ``principal``: paths tried in order (``OAUTHBEARER_PRINCIPAL_CLAIM``, default ``sub``);
    ``fallback`` with ``fallback_prefix``: tried next, its value prefixed
    (``OAUTHBEARER_PRINCIPAL_FALLBACK_*``, as Strimzi's ``oauth.fallback.username.*``);
    ``subject_fallbacks``: tried last (``OAUTHBEARER_SUBJECT_CLAIMS``, which came before
    the others: its default ``client_id,username`` applies only while no principal claim
    is configured); ``groups``: one path (``OAUTHBEARER_GROUPS_CLAIM``), a string value
    split on ``groups_delimiter``; ``scopes``: paths tried in order
    (``OAUTHBEARER_SCOPE_CLAIMS``, default ``scope,scp``).
    """

    principal: tuple[str, ...] = ("sub",)
    subject_fallbacks: tuple[str, ...] = ()
    fallback: str | None = None
    fallback_prefix: str = ""
    groups: str | None = None
    groups_delimiter: str = ","
    scopes: tuple[str, ...] = ("scope", "scp")

    def principal_of(self, claims: Mapping[str, Any]) -> str | None:
        """The principal paths in order, then the prefixed fallback, then the older
        ``subject_fallbacks``: the first that holds a principal."""
        for path in self.principal:
            value = _principal(lookup(claims, path))
            if value is not None:
                return value
        if self.fallback is not None:
            value = _principal(lookup(claims, self.fallback))
            if value is not None:
                return self.fallback_prefix + value
        for path in self.subject_fallbacks:
            value = _principal(lookup(claims, path))
            if value is not None:
                return value
        return None

    def groups_of(self, claims: Mapping[str, Any]) -> list[str] | None:
        """The groups as a JSON array of strings, when a groups claim is configured."""
        if self.groups is None:
            return None
        return _groups(lookup(claims, self.groups), self.groups_delimiter)

    def scope_of(self, claims: Mapping[str, Any]) -> str | None:
        """One space-separated string from the first scope path that holds any."""
        for path in self.scopes:
            values = _scopes(lookup(claims, path))
            if values is not None:
                return " ".join(values)
        return None


#: sub, then client_id and username; scope from scope or scp; no groups.
DEFAULT_CLAIM_RULES = ClaimRules(subject_fallbacks=("client_id", "username"))
