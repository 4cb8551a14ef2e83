"""What the sidecar decided about one token, and the key it is remembered by.

A :class:`Verdict` carries the rendered RFC 7662 answer and what judging it again needs
(``exp``, the principal, who decided); :func:`token_key` is the SHA-256 digest the cache,
the revocation store and the decision log know a token by, never the token itself.

Example:
    >>> verdict = Verdict.of({"sub": "app", "exp": 2000}, "jwks")
    >>> verdict.active, verdict.sub, len(token_key("a-token"))
    (True, 'app', 32)
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

from oauthbearer import _json
from oauthbearer.sidecar.response import INACTIVE_BODY

__all__ = ["Verdict", "token_key"]


def token_key(token: str) -> bytes:
    """The cache key for a token: its SHA-256 digest.

    Example:
        >>> token_key("abc").hex()[:12]
        'ba7816bf8f01'
    """
    return hashlib.sha256(token.encode("utf-8")).digest()


class Verdict(NamedTuple):
    """The outcome for one token, as cached: the rendered answer plus what judging it needs.

    The answer is kept rendered (bytes), not as a claims dict: a cache hit is then a
    lookup and a write with no JSON encoding, and an entry costs a fraction of the memory.
    ``exp`` is ``None`` for an inactive verdict. ``source`` says who decided: ``jwks``
    (local verification), ``upstream`` (RFC 7662 delegation) or ``none`` (rejected on
    shape, or nothing can judge it).

    A named tuple: made on every cache hit (the cache keeps plain tuples, below), which
    costs less than a dataclass with the same fields, and it cannot be changed either.

    Example:
        >>> Verdict.of({"sub": "app", "exp": 2000, "iat": 1000}, "jwks").body
        b'{"active":true,"sub":"app","exp":2000,"iat":1000}'
        >>> Verdict.inactive("none").body
        b'{"active":false}'
    """

    body: bytes
    exp: float | None
    sub: str | None
    source: str

    @classmethod
    def of(cls, claims: Mapping[str, Any], source: str, subject: str | None = None) -> Verdict:
        """An active verdict for normalized claims (``exp`` required).

        ``subject`` is the token's own ``sub`` when the answer's was normalised to another
        claim: revocations name the identity provider's user id, so that is what ``sub``
        on the verdict (the cache's index, the watermark check) keeps.
        """
        sub = subject if subject is not None else claims.get("sub")
        # Interned: the many verdicts of one principal then share one string.
        principal = sys.intern(sub) if isinstance(sub, str) else None
        body = _json.dumps({"active": True, **claims})  # render(claims), without the call
        return cls(body, float(claims["exp"]), principal, source)

    @classmethod
    def inactive(cls, source: str) -> Verdict:
        return cls(INACTIVE_BODY, None, None, source)

    @property
    def active(self) -> bool:
        return self.exp is not None
