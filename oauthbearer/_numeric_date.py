"""RFC 7519 NumericDate claims (``exp``, ``iat``, ``nbf``) as every peer can read them,
and the tolerances they are judged with.

JSON numbers have no range, and the standard library reads an integer of any length
(:mod:`oauthbearer._json` hands such documents to it). The brokers read these claims into
a Java ``long``, and Python cannot add a float to an integer beyond a float's range (an
``OverflowError``, which once turned such a token into a 500). A date outside a signed
64-bit integer is therefore no date for us: the caller treats it as missing or invalid.

Example:
    >>> tolerance("clock_skew", 30.0)
    30.0
    >>> numeric_date(1_700_000_000), numeric_date(1.5), numeric_date(True)
    (1700000000, 1.5, None)
    >>> numeric_date(10**400), numeric_date(float("nan")), numeric_date(float("inf"))
    (None, None, None)
"""

from __future__ import annotations

import math

__all__ = ["LONG_MAX", "LONG_MIN", "numeric_date", "tolerance"]

#: A Java long's range: what Strimzi's and jairsjunior's validators read dates into.
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def numeric_date(value: object) -> int | float | None:
    """``value`` when it is a JSON number a Java long can hold, else None.

    ``int | float``, not ``float``: compiled by mypyc (setup.py), a ``float`` result is
    a C double, and 2**63 - 1 came back as 2**63.

    bool is excluded (a subclass of int in Python: JSON ``true`` is not a date), and so
    are NaN (it fails both comparisons), the infinities and integers past 64 bits.
    """
    # A tuple, not "int | float": that union is built anew on every call.
    if isinstance(value, (int, float)) and value.__class__ is not bool:
        return value if LONG_MIN <= value <= LONG_MAX else None
    return None


def tolerance(name: str, seconds: float) -> float:
    """``seconds`` if it is a finite, non-negative tolerance; :class:`ValueError` naming
    ``name`` otherwise. NaN or infinity would skip the time checks without a word
    ("now >= exp + nan" is never true): a NaN leeway let a year-old token through."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name} must be a finite number of seconds, not negative")
    return seconds
