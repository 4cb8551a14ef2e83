"""The other spelling of an ECDSA-signed JWT, so revoking a token by its text holds.

A token revoked "as a token" is denied by the SHA-256 of its text. For RS* and PS*
signatures and EdDSA that text is the token's only spelling (oauthbearer.verify refuses
non-canonical base64url; OpenSSL refuses a signature integer at or past the modulus, and
an Ed25519 ``S`` at or past the group order). An ECDSA signature (ES256/384/512) has two:
``(r, s)`` and ``(r, n - s)`` verify the same signing input, and anyone holding the
token can compute the second. A revoked ES token without a ``jti`` (the jti has one
spelling, and is denied too) came back in under its twin's hash, so its twin is denied
with it.

Example:
    >>> other_spellings("an-opaque-token"), other_spellings("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")
    ([], [])
"""

from __future__ import annotations

import base64
import binascii

from oauthbearer._json import NOT_JSON, loads

__all__ = ["CURVE_ORDERS", "other_spellings"]

#: The group order n of each JWS ECDSA algorithm's curve (FIPS 186-4 D.1.2, SEC 2 §2.4),
#: with the width of r and of s in the signature (RFC 7518 §3.4).
CURVE_ORDERS: dict[str, tuple[int, int]] = {
    "ES256": (0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551, 32),
    "ES384": (
        int(
            "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
            "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
            16,
        ),
        48,
    ),
    "ES512": (
        int(
            "01FF" + "FFFFFFFF" * 7 + "FFFFFFFA"
            "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
            16,
        ),
        66,
    ),
}


# binascii.Error is a ValueError; .get on a header that is JSON but no object.
_UNREADABLE: tuple[type[Exception], ...] = (*NOT_JSON, AttributeError, binascii.Error)


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def other_spellings(token: str) -> list[str]:
    """Every other text of ``token`` that verifies as it does: the ``n - s`` twin of an
    ECDSA-signed JWT, or nothing. Unverified and lenient (the operator holds the token);
    a token that is not an ECDSA JWS of the right shape has no twin here."""
    parts = token.split(".")
    if len(parts) != 3:
        return []
    header, payload, signature = parts
    try:
        alg = loads(_b64url_decode(header)).get("alg")
        raw = _b64url_decode(signature)
    except _UNREADABLE:
        return []
    if not isinstance(alg, str) or alg not in CURVE_ORDERS:
        return []
    order, width = CURVE_ORDERS[alg]
    if len(raw) != 2 * width:
        return []
    s = int.from_bytes(raw[width:], "big")
    if not 0 < s < order:  # no valid signature: nothing verifies under either spelling
        return []
    twin = raw[:width] + (order - s).to_bytes(width, "big")
    encoded = base64.urlsafe_b64encode(twin).rstrip(b"=").decode("ascii")
    return [f"{header}.{payload}.{encoded}"]
