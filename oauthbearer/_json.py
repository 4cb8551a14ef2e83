"""JSON on the sidecar's hot path: orjson, with the standard library where orjson differs.

A cold JWT decision decodes one payload and encodes one answer. With the standard
library that was about 5 µs of a decision whose only larger costs are the signature and
the HTTP exchange; orjson does both in well under one. Two differences are handled here
so that callers get the values :mod:`json` would give them (only some floats are spelled
otherwise in what is written: ``6.2e-8`` for ``6.2e-08``):

* orjson reads an integer beyond 64 bits as a float (``123456789012345678901234`` →
  ``1.2345678901234569e+23``), so a claim passed through would be changed. A document
  with a run of 20 digits anywhere is decoded by :mod:`json` instead (rare: no identity
  provider we know of issues such numbers, and the check costs a fraction of a µs).
* orjson refuses to encode such integers; the standard encoder then does it.

Both refuse what RFC 8259 refuses where :mod:`json` is lenient: ``NaN``/``Infinity``
and lone surrogates (which the answer could not be encoded as UTF-8 with), and a byte
order mark. That is stricter, never looser: such a payload is not a JSON object for us.

Example:
    >>> loads(b'{"exp": 2000, "aud": ["a"]}')
    {'exp': 2000, 'aud': ['a']}
    >>> loads(b'{"n": 123456789012345678901234}')
    {'n': 123456789012345678901234}
    >>> loads(b'{"n": 123456789012345678901234, "x": NaN}')
    Traceback (most recent call last):
    ValueError: NaN is not JSON (RFC 8259 §6)
    >>> dumps({"active": True, "n": 2**70, "s": "é"})
    b'{"active":true,"n":1180591620717411303424,"s":"\\xc3\\xa9"}'
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["NOT_JSON", "dumps", "loads"]

#: What :func:`json.loads` raises for bytes it cannot read as JSON: ``ValueError`` (which
#: covers ``JSONDecodeError``, ``UnicodeDecodeError`` and an integer longer than Python
#: converts, 4,300 digits) and ``RecursionError`` (arrays nested a few thousand deep).
#: Both fit in any answer or token we accept, so every caller catches both.
NOT_JSON: tuple[type[Exception], ...] = (ValueError, RecursionError)

# Every digit made a "9", then one substring search: a third of a µs on a token's
# payload, where a regular expression took 1.4-1.9 µs.
_DIGITS_AS_NINES = bytes.maketrans(b"0123456789", b"9999999999")
_TWENTY_DIGITS = b"9" * 20
_STDLIB_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def loads(data: bytes) -> Any:
    """The JSON value of UTF-8 ``data``; :class:`ValueError` if it is not JSON."""
    if _TWENTY_DIGITS not in data.translate(_DIGITS_AS_NINES):
        return orjson.loads(data)
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_not_json)
    except RecursionError:  # orjson refuses such nesting with a ValueError: so do we
        raise ValueError("JSON nested too deeply") from None
    _STDLIB_COMPACT.encode(value).encode("utf-8")  # lone surrogates: UnicodeEncodeError
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259 §6)")


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (no spaces, non-ASCII as is), as ``json.dumps`` would write it.

    The same value, byte for byte but for some floats' spelling (``6.2e-8`` for ``6.2e-08``).
    :class:`ValueError` for a value nested more than 254 deep or holding a lone surrogate.
    """
    try:
        # Copied to a bytes object of its own size: orjson's result is its write buffer
        # shrunk in place, and for answers the cache keeps that left a hole of some
        # kilobytes per entry in the heap (bench/memory.py: 100,000 entries took 428 MiB
        # instead of 63). The copy, small enough for Python's own allocator, costs 0.1 µs.
        return bytes(memoryview(orjson.dumps(value)))
    except orjson.JSONEncodeError as exc:
        if "ecursion" in str(exc):
            # Nested past orjson's 254 levels. Not handed to the standard encoder: how
            # deep that one gets depends on the caller's stack (the HTTP protocol's
            # callback or an ASGI task), so one answer would differ by path.
            raise ValueError("JSON nested too deeply to encode") from None
    # An integer beyond 64 bits (orjson refuses those), or a lone surrogate, which the
    # standard encoder refuses as well (UnicodeEncodeError, a ValueError).
    try:
        return _STDLIB_COMPACT.encode(value).encode("utf-8")
    except RecursionError:
        raise ValueError("JSON nested too deeply to encode") from None
