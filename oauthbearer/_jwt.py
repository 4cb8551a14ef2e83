"""Reading a JWT's payload without verifying it, for what needs no trust.

The client reads ``exp`` to cross-check ``expires_in``; the sidecar's revocation service
reads ``exp`` to bound how long a denial is kept. Neither decides anything about access
from it (verification is :mod:`oauthbearer.verify`), so the decoding here is lenient.

Example:
    >>> unverified_claims("eyJhbGciOiJub25lIn0.eyJleHAiOjV9.")
    {'exp': 5}
    >>> unverified_claims("an-opaque-token")
    {}
"""

from __future__ import annotations

import base64
import json
from typing import Any

from oauthbearer._json import NOT_JSON

__all__ = ["unverified_claims"]


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWS compact JWT, unverified; ``{}`` for anything else (opaque)."""
    parts = token.split(".")
    if len(parts) != 3:  # opaque, or a JWE (5 parts) we cannot read
        return {}
    segment = parts[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except NOT_JSON:  # binascii.Error is a ValueError
        return {}
    return claims if isinstance(claims, dict) else {}
