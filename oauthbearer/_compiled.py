"""Which modules the build compiles to C with mypyc, and whether this install has them.

A cold JWT decision is an RSA check (in C, in OpenSSL) and some thirty small steps of
Python around it: split, base64url, JSON, claims, the answer's bytes, the cache entry.
Interpreted, those steps cost more than the RSA check; compiled by mypyc from the same
typed source, a whole cold decision took 49 µs instead of 63 in-process, and the live
sidecar made 1.12-1.15 times the cold decisions per second (bench/README.md).
``OAUTHBEARER_COMPILE=1`` at build time (the container image, bench/run) compiles
:data:`MODULES`; without it the wheel is pure Python and behaves the same, only slower.
Nothing else changes: the ``.py`` files stay the source, and an extension module next to
one is what Python imports first.

The list is the request path of a JWT or cached decision, and nothing that the tests
replace at run time (a compiled module's functions call each other directly, so
monkeypatching one of them has no effect: such tests carry the ``pure_python`` mark).

Example:
    >>> "oauthbearer.sidecar.answer" in MODULES
    True
    >>> set(compiled()) <= set(MODULES)
    True
    >>> build() in ("pure Python", f"compiled ({len(MODULES)} modules, mypyc)")
    True
"""

from __future__ import annotations

import importlib
import importlib.machinery

__all__ = ["MODULES", "build", "compiled"]

#: Dotted names; setup.py turns them into paths. Keep to modules whose every import is
#: typed (mypyc checks values at the boundary of an ``Any``) and whose tests do not patch
#: their functions.
MODULES = (
    "oauthbearer._json",
    "oauthbearer._numeric_date",
    "oauthbearer.sidecar.answer",
    "oauthbearer.sidecar.cache",
    "oauthbearer.sidecar.callers",
    "oauthbearer.sidecar.claims",
    "oauthbearer.sidecar.introspector",
    "oauthbearer.sidecar.request",
    "oauthbearer.sidecar.response",
    "oauthbearer.sidecar.verdict",
    "oauthbearer.verify.compact",
    "oauthbearer.verify.jwt_validator",
    "oauthbearer.verify.signature",
)


def compiled() -> tuple[str, ...]:
    """The modules of :data:`MODULES` this interpreter loads as compiled extensions."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return tuple(
        name
        for name in MODULES
        if (importlib.import_module(name).__file__ or "").endswith(suffixes)
    )


def build() -> str:
    """What ``oauthbearer serve`` logs at start-up: which build this is.

    A partly compiled install (some modules shadowed by ``.py`` files on an earlier
    ``sys.path`` entry) says so, with the count.
    """
    loaded = len(compiled())
    if loaded == 0:
        return "pure Python"
    if loaded == len(MODULES):
        return f"compiled ({loaded} modules, mypyc)"
    return f"partly compiled ({loaded} of {len(MODULES)} modules)"
