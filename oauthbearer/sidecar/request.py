"""Extracting the token from an introspection request body, cheaply and leniently.

Two peers, two encodings of the same ``token=`` form (CONTRACT.md §1-2):

* Strimzi URL-encodes the token (``+`` → ``%2B``, ``/`` → ``%2F``, ``=`` → ``%3D``).
* jairsjunior writes it **raw**: ``token=abc+def/ghi==``. Ordinary form decoding
  (``application/x-www-form-urlencoded``) turns that ``+`` into a space and so corrupts
  the token.

We therefore percent-decode **without** plus-to-space. That is exact for both peers:
an access token never contains a space (RFC 6750 §2.1 ``b64token`` and Kafka's own
``[-_~+/.a-zA-Z0-9]+=*`` check), so a literal ``+`` can only ever mean ``+``.

This is the hot path of every request, cache hits included, so it is a hand-rolled split
over the bytes rather than ``await request.form()`` (python-multipart costs roughly a third
of the throughput; see TESTBED.md).

Example:
    >>> parse_token(b"token=abc+def/gh==", ("token",))
    'abc+def/gh=='
    >>> parse_token(b"token=abc%2Bdef%2Fgh%3D%3D&token_type_hint=access_token", ("token",))
    'abc+def/gh=='
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["ASCII_SPACE", "MalformedRequest", "looks_like_token", "parse_token"]

# Kafka's broker refuses any token outside this shape before a validator sees it, and RFC
# 6750's b64token is the same alphabet; anything else cannot be an active access token.
_TOKEN_SHAPE = re.compile(r"[-_~+/.A-Za-z0-9]+=*")


#: The whitespace a token may come wrapped in (ASCII only: not a non-breaking space).
ASCII_SPACE = " \t\r\n"


class MalformedRequest(ValueError):
    """The body is not a usable introspection request (→ 400 ``invalid_request``)."""


def parse_token(body: bytes, names: tuple[str, ...]) -> str:
    """Return the single token parameter (under any of ``names``) from a form body.

    ``token_type_hint`` and unknown parameters are ignored (RFC 7662 §2.1 lets the server
    ignore the hint). No token, an empty token, or the token given twice (under one name
    or two aliases) is malformed: we would not know which one to judge.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("body is not UTF-8") from None
    if "&" not in text and "%" not in text:
        # One parameter and nothing to percent-decode, the body both peers send for a JWT:
        # what the loop below decides for it, without the list and the unquote calls
        # (every request, cache hits included, comes through here).
        name, sep, value = text.strip(ASCII_SPACE).partition("=")
        token = value.strip(ASCII_SPACE)
        if sep and token and name.strip(ASCII_SPACE) in names:
            return token
        raise MalformedRequest("no token parameter")
    return _parse_parameters(text, names)


def _parse_parameters(text: str, names: tuple[str, ...]) -> str:
    """:func:`parse_token` for any form body: every parameter, percent-decoded."""
    found: str | None = None
    # ASCII whitespace only: str.strip() took a non-breaking space off a token, so the
    # token judged was not the one sent (a broker's line endings are all this is for).
    for part in text.strip(ASCII_SPACE).split("&"):
        name, sep, value = part.partition("=")
        if not sep:
            continue
        if unquote(name.strip(ASCII_SPACE)) not in names:
            continue
        if found is not None:
            raise MalformedRequest("token parameter given more than once")
        found = unquote(value.strip(ASCII_SPACE))
    if not found:
        raise MalformedRequest("no token parameter")
    return found


def looks_like_token(token: str) -> bool:
    """True when ``token`` has the shape of an access token at all (no upstream call else).

    Example:
        >>> looks_like_token("eyJ.a-b_c.d+e/f=="), looks_like_token("a b")
        (True, False)
    """
    return _TOKEN_SHAPE.fullmatch(token) is not None
