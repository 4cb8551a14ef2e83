"""What Kafka's SASL/OAUTHBEARER accepts: token characters and extension keys and values.

The client initial response (RFC 7628 §3.1) is ``n,,\\x01auth=Bearer <token>`` followed by
``\\x01key=value`` per extension. Kafka's broker refuses a token outside RFC 6750 §2.1's
``b64token`` and extensions outside RFC 7628's grammar, and librdkafka refuses to even set
them. Checking here turns a silent broker-side failure into an error naming its cause.

Example:
    >>> parse_extensions("logicalCluster=lkc-abc12,identityPoolId=pool-Xy1", "VAR")
    (('logicalCluster', 'lkc-abc12'), ('identityPoolId', 'pool-Xy1'))
    >>> is_bearer_token("eyJhbGciOi.eyJzdWIi.c2ln")
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from oauthbearer.errors import ConfigurationError

__all__ = ["is_bearer_token", "parse_extensions", "validate_extensions"]

# RFC 6750 §2.1 b64token; Kafka's OAuthBearerClientInitialResponse uses the same pattern.
_TOKEN = re.compile(r"[-_~+/.a-zA-Z0-9]+=*")
# RFC 7628 §3.1: key = 1*(ALPHA); value = *(VCHAR / SP / HTAB / CR / LF).
_KEY = re.compile(r"[A-Za-z]+")
# RFC 7628 §3.1 "value = *(VCHAR / SP / HTAB / CR / LF)", but Kafka's broker parses
# "[\x21-\x7E \t\r\n]+" (OAuthBearerClientInitialResponse): an empty value is refused there
# with a bare "Invalid OAUTHBEARER client first message", so it is refused here, named.
_VALUE = re.compile(r"[\x21-\x7E \t\r\n]+")


def is_bearer_token(token: str) -> bool:
    """True when ``token`` is an RFC 6750 ``b64token``, the only shape Kafka accepts."""
    return _TOKEN.fullmatch(token) is not None


def validate_extensions(
    pairs: Iterable[tuple[str, str]] | Mapping[str, str], variable: str
) -> tuple[tuple[str, str], ...]:
    """Check SASL extensions against RFC 7628 §3.1 and Kafka's rules; return them as pairs.

    ``auth`` is reserved: it carries the token itself (RFC 7628 §3.1, KIP-342).

    Example:
        >>> validate_extensions([("logicalCluster", "lkc-1")], "VAR")
        (('logicalCluster', 'lkc-1'),)
    """
    seen: set[str] = set()
    result: list[tuple[str, str]] = []
    # A mapping is its items (iterated, {"ab": "x"} became the pair a=b); anything that
    # is not a pair of strings is refused naming the variable, not a bare unpacking error.
    items: Iterable[object] = pairs.items() if isinstance(pairs, Mapping) else pairs
    for pair in items:
        if not (
            isinstance(pair, tuple)
            and len(pair) == 2
            and isinstance(pair[0], str)
            and isinstance(pair[1], str)
        ):
            raise ConfigurationError(variable, "extensions must be (key, value) string pairs")
        key, value = pair
        if _KEY.fullmatch(key) is None:
            raise ConfigurationError(variable, f"extension key {key!r} must be letters only")
        if key == "auth":
            raise ConfigurationError(variable, "extension key 'auth' is reserved for the token")
        if key in seen:
            raise ConfigurationError(variable, f"extension key {key!r} appears twice")
        if _VALUE.fullmatch(value) is None:
            raise ConfigurationError(
                variable, f"extension {key!r} value must be non-empty printable ASCII"
            )
        seen.add(key)
        result.append((key, value))
    return tuple(result)


def parse_extensions(text: str | None, variable: str) -> tuple[tuple[str, str], ...]:
    """Parse ``key=value,key=value`` (the form used in environment variables) and validate.

    Example:
        >>> parse_extensions("a=1, b=2", "VAR")
        (('a', '1'), ('b', '2'))
    """
    if text is None or not text.strip():
        return ()
    pairs: list[tuple[str, str]] = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigurationError(variable, f"expected key=value, got {key.strip()!r}")
        pairs.append((key.strip(), value.strip()))
    return validate_extensions(pairs, variable)
