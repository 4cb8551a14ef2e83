"""Where each identity provider keeps the principal, the groups and the scopes.

Brokers authorise by principal (``sub``, which jairsjunior's handler takes as is and
Strimzi's by default) and, with Strimzi's authorizers, by groups; scopes must be one
space-separated string. Identity providers put them in different places — Keycloak's
service account is a UUID in ``sub`` and a name in ``preferred_username``, Entra ID's
application is ``azp``/``appid``, Okta's scopes are an ``scp`` array, Cognito's groups
are ``cognito:groups``. :class:`ClaimRules` says where to look, and the sidecar's answer
carries one normalised ``sub``, ``groups`` and ``scope`` for JWKS-verified and
upstream-introspected tokens alike.

A claim path is a top-level claim name (``cognito:groups``, ``https://ns.example/roles``:
names with colons or dots are tried whole first) or a dotted path into nested objects
(``realm_access.roles``, ``resource_access.kafka.roles``).

Example:
    >>> rules = ClaimRules(principal=("preferred_username",), fallback="client_id",
    ...                    fallback_prefix="service-account-", groups="realm_access.roles")
    >>> claims = {"sub": "9f1c…", "client_id": "orders", "realm_access": {"roles": ["writers"]}}
    >>> rules.principal_of(claims), rules.groups_of(claims)
    ('service-account-orders', ['writers'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_CLAIM_RULES", "ClaimRules", "lookup"]

_MISSING = object()


def lookup(claims: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (a whole claim name first, then dotted), or None.

    Example:
        >>> lookup({"resource_access": {"kafka": {"roles": ["r"]}}}, "resource_access.kafka.roles")
        ['r']
        >>> lookup({"cognito:groups": ["g"]}, "cognito:groups")
        ['g']
    """
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _strings(value: Any) -> list[str] | None:
    """A list of non-empty strings from a JSON array, or a space-separated string."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item for item in value if item]
    return None


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """How the answer's ``sub``, ``groups`` and ``scope`` are found in a token's claims.

    ``principal``: paths tried in order (``OAUTHBEARER_PRINCIPAL_CLAIM``, default ``sub``);
    ``fallback`` with ``fallback_prefix``: tried next, its value prefixed
    (``OAUTHBEARER_PRINCIPAL_FALLBACK_*``, as Strimzi's ``oauth.fallback.username.*``);
    ``subject_fallbacks``: tried last (``OAUTHBEARER_SUBJECT_CLAIMS``, which came before
    the others and keeps its default ``client_id,username`` in the sidecar's settings);
    ``groups``: one path (``OAUTHBEARER_GROUPS_CLAIM``); ``scopes``: paths tried in order
    (``OAUTHBEARER_SCOPE_CLAIMS``, default ``scope,scp``).
    """

    principal: tuple[str, ...] = ("sub",)
    subject_fallbacks: tuple[str, ...] = ()
    fallback: str | None = None
    fallback_prefix: str = ""
    groups: str | None = None
    scopes: tuple[str, ...] = ("scope", "scp")

    def principal_of(self, claims: Mapping[str, Any]) -> str | None:
        """The principal paths in order, then the prefixed fallback, then the older
        ``subject_fallbacks``: the first non-empty string found."""
        for path in self.principal:
            value = lookup(claims, path)
            if isinstance(value, str) and value:
                return value
        if self.fallback is not None:
            value = lookup(claims, self.fallback)
            if isinstance(value, str) and value:
                return self.fallback_prefix + value
        for path in self.subject_fallbacks:
            value = lookup(claims, path)
            if isinstance(value, str) and value:
                return value
        return None

    def groups_of(self, claims: Mapping[str, Any]) -> list[str] | None:
        """The groups as a JSON array of strings, when a groups claim is configured."""
        if self.groups is None:
            return None
        return _strings(lookup(claims, self.groups)) or []

    def scope_of(self, claims: Mapping[str, Any]) -> str | None:
        """One space-separated string from the first scope path that holds any."""
        for path in self.scopes:
            values = _strings(lookup(claims, path))
            if values is not None:
                return " ".join(values)
        return None


#: sub, then client_id and username; scope from scope or scp; no groups.
DEFAULT_CLAIM_RULES = ClaimRules(subject_fallbacks=("client_id", "username"))
