"""The bearer token in a Kafka record's headers: one header, one token, nothing else.

The header is :data:`TOKEN_HEADER` (``oauthbearer-token``) unless configured otherwise;
its value is the token itself as ASCII bytes, without a ``Bearer`` prefix. A record must
carry exactly one such header: :func:`attach_token` replaces any existing one, and
:func:`read_token` refuses a record with two — otherwise a producer could append a second
token that one consumer reads and another ignores.

Tokens are checked against RFC 6750 §2.1's ``b64token`` alphabet on the way in and on
the way out, so whatever reaches an ``Authorization`` header downstream cannot smuggle
in a line break or a second header.

Example:
    >>> headers = attach_token([("trace-id", b"42")], "eyJhbGciOi.eyJzdWIiOi.c2ln")
    >>> headers
    [('trace-id', b'42'), ('oauthbearer-token', b'eyJhbGciOi.eyJzdWIiOi.c2ln')]
    >>> read_token(headers)
    'eyJhbGciOi.eyJzdWIiOi.c2ln'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

from oauthbearer.client.token import Token
from oauthbearer.errors import TokenMissing

__all__ = ["TOKEN_HEADER", "HeadersIn", "TokenSource", "attach_token", "read_token"]

#: The record header that carries the caller's bearer token.
TOKEN_HEADER = "oauthbearer-token"  # noqa: S105 - a header name, not a secret

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# A JWT is a few KiB; anything far larger is not a token we will verify or forward.
_MAX_TOKEN = 16_384

HeaderValue = bytes | str | None
#: Record headers as Kafka clients give them: a list of pairs (confluent-kafka, aiokafka),
#: a mapping, or None for no headers.
HeadersIn = Sequence[tuple[str, HeaderValue]] | Mapping[str, HeaderValue] | None


class _Provider(Protocol):
    """What we need of :class:`~oauthbearer.client.provider.TokenProvider`."""

    def token(self) -> Token: ...


#: A token as a string, a client :class:`~oauthbearer.client.token.Token`, or a
#: :class:`~oauthbearer.client.provider.TokenProvider` asked for its current token.
TokenSource = str | Token | _Provider


def _pairs(headers: HeadersIn) -> list[tuple[str, HeaderValue]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


def _checked(token: str, where: str) -> str:
    if not token:
        raise TokenMissing(where, "empty token")
    if len(token) > _MAX_TOKEN:
        raise TokenMissing(where, f"token longer than {_MAX_TOKEN} characters")
    if _B64TOKEN.fullmatch(token) is None:
        raise TokenMissing(where, "not a bearer token (RFC 6750 §2.1 b64token characters)")
    return token


def _token_of(source: TokenSource) -> str:
    if isinstance(source, str):
        return source
    if isinstance(source, Token):
        return source.access_token
    return source.token().access_token


def attach_token(
    headers: HeadersIn, token: TokenSource, *, header: str = TOKEN_HEADER
) -> list[tuple[str, bytes | str | None]]:
    """``headers`` as a new list with ``token`` in ``header`` (any previous one removed).

    ``token`` may be a string, a client ``Token``, or a ``TokenProvider`` (its
    ``token()`` is called: cached, refreshed or fetched). Raises
    :class:`~oauthbearer.errors.TokenMissing` for something that is not a bearer token.

    Example:
        >>> attach_token({"k": b"v", "oauthbearer-token": b"old"}, "new")
        [('k', b'v'), ('oauthbearer-token', b'new')]
    """
    where = f"record header {header!r}"
    value = _checked(_token_of(token), where)
    kept = [(k, v) for k, v in _pairs(headers) if k != header]
    return [*kept, (header, value.encode("ascii"))]


def read_token(headers: HeadersIn, *, header: str = TOKEN_HEADER) -> str:
    """The token in ``header``; :class:`~oauthbearer.errors.TokenMissing` unless exactly one.

    Header names are compared exactly (Kafka header keys are case-sensitive strings).

    Example:
        >>> read_token([("other", b"x")])
        Traceback (most recent call last):
        ...
        oauthbearer.errors.TokenMissing: record header 'oauthbearer-token': missing
    """
    where = f"record header {header!r}"
    values = [v for k, v in _pairs(headers) if k == header]
    if not values:
        raise TokenMissing(where, "missing")
    if len(values) > 1:
        raise TokenMissing(where, f"present {len(values)} times; exactly one is allowed")
    value = values[0]
    if value is None:
        raise TokenMissing(where, "present without a value")
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            raise TokenMissing(where, "not ASCII") from None
    return _checked(value, where)
