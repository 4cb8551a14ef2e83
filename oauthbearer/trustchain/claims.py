"""Verified claims that remember their token, so it can be forwarded but never shown.

A :class:`VerifiedClaims` *is* the claims dict (``claims["sub"]``), with the token kept
on the side (``claims.token``) for :class:`~oauthbearer.trustchain.auth.BearerAuth`. Its
``repr`` shows the claims only: logging it never leaks the token.

Example:
    >>> c = VerifiedClaims({"sub": "alice", "exp": 2000}, token="eyJ.secret.sig")
    >>> c["sub"], c.fingerprint, "secret" in repr(c)
    ('alice', 'sha256:33644d3c3292', False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oauthbearer._secret import fingerprint

__all__ = ["VerifiedClaims"]


class VerifiedClaims(dict[str, Any]):
    """The claims of a token that passed verification; ``token`` is the token itself."""

    __slots__ = ("token",)

    def __init__(self, claims: Mapping[str, Any], *, token: str) -> None:
        super().__init__(claims)
        self.token = token

    @property
    def fingerprint(self) -> str:
        """A short SHA-256 label of the token, safe to log."""
        return fingerprint(self.token)

    @property
    def subject(self) -> str | None:
        """``sub`` when it is a string (RFC 7519 §4.1.2), else None."""
        sub = self.get("sub")
        return sub if isinstance(sub, str) else None

    @property
    def scopes(self) -> frozenset[str]:
        """The granted scopes: ``scope`` (a space-separated string, RFC 9068 §2.2.3, or a
        list) or, failing that, ``scp`` (Azure AD and Okta's list).

        Example:
            >>> sorted(VerifiedClaims({"scope": "orders:read orders:write"}, token="t").scopes)
            ['orders:read', 'orders:write']
            >>> VerifiedClaims({"scp": ["orders:read"]}, token="t").scopes
            frozenset({'orders:read'})
        """
        for name in ("scope", "scp"):
            value = self.get(name)
            if isinstance(value, str):
                return frozenset(value.split())
            if isinstance(value, list):
                return frozenset(v for v in value if isinstance(v, str) and v)
        return frozenset()

    def __repr__(self) -> str:
        return f"VerifiedClaims({dict.__repr__(self)}, fingerprint={self.fingerprint!r})"
