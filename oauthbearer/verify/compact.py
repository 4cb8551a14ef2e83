"""The compact JWS form (RFC 7515 §7.1), split and decoded strictly, before any trust.

``parse`` splits a token into its three segments and decodes the header (a JSON object),
remembering decoded headers per segment: an issuer signs all its tokens with one of a few
headers, and decoding the same one per token was a tenth of a cold decision. Nothing here
verifies anything; :mod:`oauthbearer.verify.jwt_validator` does.

Example:
    >>> parse("eyJhbGciOiJSUzI1NiJ9.e30.c2ln").header, parse("opaque")
    ({'alg': 'RS256'}, None)
"""

from __future__ import annotations

import binascii
from typing import Any, NamedTuple

from oauthbearer import _json

__all__ = ["MAX_HEADERS", "CompactJws", "b64url_decode", "b64url_json", "parse"]

# base64url → base64, and the characters base64url lacks ("+", "/", "=") → "*", which
# strict decoding refuses: one pass checks the alphabet and translates it.
_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/=", b"+/***")
# The last character of a segment whose length is 2 or 3 (mod 4) carries unused bits; a
# canonical encoder leaves them zero (RFC 4648 §3.5), so only these characters may end it.
_CANONICAL_ENDINGS = {2: frozenset(b"AQgw"), 3: frozenset(b"AEIMQUYcgkosw048")}
_PADDING = (b"", b"", b"==", b"=")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); ``binascii.Error`` otherwise.

    No padding, no characters outside the alphabet, canonical trailing bits: one byte
    string has exactly one spelling, so one token has one cache key.

    Example:
        >>> b64url_decode("eyJhIjoxfQ")
        b'{"a":1}'
        >>> b64url_decode("eyJhIjoxfR")
        Traceback (most recent call last):
        binascii.Error: non-canonical base64url
    """
    data = segment.encode("ascii")  # UnicodeEncodeError (a ValueError) if not ASCII
    tail = len(data) % 4
    if tail == 1:
        raise binascii.Error("impossible base64url length")
    if tail and data[-1] not in _CANONICAL_ENDINGS[tail]:
        raise binascii.Error("non-canonical base64url")
    padded = data.translate(_TO_STANDARD_ALPHABET) + _PADDING[tail]
    return binascii.a2b_base64(padded, strict_mode=True)


def b64url_json(segment: str) -> Any:
    """The JSON value a base64url segment encodes, or None if it encodes none."""
    try:
        return _json.loads(b64url_decode(segment))
    except (binascii.Error, ValueError):  # UnicodeError and JSONDecodeError are ValueErrors
        return None


#: Decoded headers by their base64url segment. An issuer signs all its tokens with one of
#: a few headers (alg, kid, typ): decoding the same one per token was a tenth of a cold
#: decision. Bounded (emptied when full), so a flood of distinct headers cannot grow it.
_HEADERS: dict[str, dict[str, Any]] = {}
#: How many decoded headers are kept (the validator bounds what it remembers the same way).
MAX_HEADERS = 256


def _decoded_header(segment: str) -> dict[str, Any] | None:
    header = _HEADERS.get(segment)
    if header is None:
        decoded = b64url_json(segment)
        if not isinstance(decoded, dict):
            return None
        if len(_HEADERS) >= MAX_HEADERS:
            _HEADERS.clear()
        header = _HEADERS[segment] = decoded
    return header


class CompactJws(NamedTuple):
    """A token split into its three segments, with its header decoded (not yet verified).

    ``header`` is shared by every token with the same header segment: read it only.
    """

    segments: list[str]
    header: dict[str, Any]


def parse(token: str) -> CompactJws | None:
    """Three dot-separated segments whose first decodes to a JSON object, else None."""
    segments = token.split(".")
    if len(segments) != 3:
        return None
    # A header seen before, the common case, without a call.
    header = _HEADERS.get(segments[0]) or _decoded_header(segments[0])
    return CompactJws(segments, header) if header is not None else None
