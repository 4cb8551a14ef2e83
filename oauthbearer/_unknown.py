"""Warnings for ``OAUTHBEARER_*`` variables that the running half does not read.

A misspelt name silently configures nothing: ``OAUTHBEARER_LOGIN_CLIENT_ASERTION_FILE``
leaves a client without its assertion, and it asks for tokens unauthenticated. Each
half is judged against its own names, so the client does not accept the sidecar's
``OAUTHBEARER_CA_FILE`` for its own ``OAUTHBEARER_LOGIN_CA_FILE``.

The halves' namespaces are disjoint (``oauthbearer/client/variables.py``): the client's
own names start with ``OAUTHBEARER_LOGIN_``, every other ``OAUTHBEARER_*`` name is the
sidecar's. The client never imports the sidecar, so it does not know the sidecar's list;
the namespace still tells it where a name belongs. The CLI knows both lists.

Messages name variables, never their values: a value may be a credential.

Example:
    >>> client = {"client": ["OAUTHBEARER_LOGIN_CA_FILE", "OAUTHBEARER_LOGIN_CLIENT_ID"]}
    >>> env = {"OAUTHBEARER_LOGIN_CLIENTID": "kafka", "OAUTHBEARER_CA_FILE": "/ca.pem"}
    >>> for report in unknown_variables(env, runs=["client"], names=client):
    ...     print(report.message)  # doctest: +NORMALIZE_WHITESPACE
    OAUTHBEARER_CA_FILE is ignored by the client (oauth_cb, `oauthbearer token`): its
    OAUTHBEARER_* names start with OAUTHBEARER_LOGIN_, the others configure `oauthbearer
    serve` (did you mean OAUTHBEARER_LOGIN_CA_FILE?)
    OAUTHBEARER_LOGIN_CLIENTID is not a known variable and is ignored (did you mean
    OAUTHBEARER_LOGIN_CLIENT_ID?)
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Collection, Iterable, Mapping
from typing import NamedTuple

from oauthbearer._env import IGNORED_SETTINGS, ignored_settings

__all__ = ["READERS", "Unknown", "first_reports", "forget_reports", "settle", "unknown_variables"]

PREFIX = "OAUTHBEARER_"
_CLIENT_PREFIX = "OAUTHBEARER_LOGIN_"
#: Variables of our own tooling (the test suite, CI, the benchmark), never read by the package.
_TOOLING_PREFIXES = ("OAUTHBEARER_TEST_", "OAUTHBEARER_BENCH_")
#: Read by setup.py when the package is built, never at run time; an image built with it
#: in its ENV keeps it there, and it is no typo.
_BUILD_VARIABLES = frozenset({"OAUTHBEARER_COMPILE"})

#: Who reads each half's variables, as messages name them.
READERS = {
    "client": "the client (oauth_cb, `oauthbearer token`)",
    "sidecar": "`oauthbearer serve`",
}


class Unknown(NamedTuple):
    """One variable set but not read, and what to tell the user about it."""

    name: str
    message: str


def owner(name: str) -> str:
    """The half whose namespace an ``OAUTHBEARER_*`` name is in."""
    return "client" if name.startswith(_CLIENT_PREFIX) else "sidecar"


def unknown_variables(
    environ: Mapping[str, str], *, runs: Collection[str], names: Mapping[str, Collection[str]]
) -> list[Unknown]:
    """One report per ``OAUTHBEARER_*`` variable that no half in ``runs`` reads, and one
    per jairsjunior setting that is set but deliberately not honoured.

    ``names`` holds every half's variables that the caller knows; it includes the halves
    in ``runs``, and may include the other one (then its names are recognised as its own).
    """
    reading = {name for half in runs for name in names[half]}
    known = {name for listed in names.values() for name in listed}
    reports = [
        Unknown(name, message)
        for name in sorted(IGNORED_SETTINGS & environ.keys())
        for message in ignored_settings({name: environ[name]})
    ]
    for name in sorted(environ):
        if (
            not name.startswith(PREFIX)
            or name.startswith(_TOOLING_PREFIXES)
            or name in _BUILD_VARIABLES
            or name in reading
        ):
            continue
        half = owner(name)
        if half in runs or (half in names and name not in names[half]):
            hint = _hint(name, reading, known)
            message = f"{name} is not a known variable and is ignored{hint}"
        elif half in names:
            (running,) = runs  # both halves running would read every known name
            hint = _hint(name, reading, reading)  # only a name of the running half helps
            message = (
                f"{name} is read by {READERS[half]}, not by {READERS[running]}, "
                f"and is ignored here{hint}"
            )
        else:
            # The other half's list is not ours to import: the namespace says whose it is.
            (running,) = runs
            hint = _hint(name, reading, reading)
            message = (
                f"{name} is ignored by {READERS[running]}: its {PREFIX}* names start with "
                f"{_CLIENT_PREFIX}, the others configure {READERS[half]}{hint}"
            )
        reports.append(Unknown(name, message))
    return reports


def _hint(name: str, reading: Collection[str], candidates: Collection[str]) -> str:
    """The variable of ``candidates`` most likely meant, as `` (did you mean …?)``, or
    ``""``; the other half's twin of ``name`` when the running half reads it."""
    # Keys, assertions and tokens are read from files only: NAME_FILE is the real one.
    if name + "_FILE" in candidates:
        return f" (did you mean {name}_FILE? it is read from a file)"
    # The same setting in the other half's namespace (OAUTHBEARER_CA_FILE for the client).
    if name.startswith(_CLIENT_PREFIX):
        twin = PREFIX + name.removeprefix(_CLIENT_PREFIX)
    else:
        twin = _CLIENT_PREFIX + name.removeprefix(PREFIX)
    if twin in reading:
        return f" (did you mean {twin}?)"
    # Compared without the shared prefix, which would make every name look close.
    suffixes = sorted(
        {k.removeprefix(PREFIX) for k in candidates if k.startswith(PREFIX) and k != name}
    )
    close = difflib.get_close_matches(name.removeprefix(PREFIX), suffixes, n=1, cutoff=0.75)
    return f" (did you mean {PREFIX}{close[0]}?)" if close else ""


# --- once per process -----------------------------------------------------------------
# Every Kafka client built from the environment reads it again; one warning per name
# is enough, and a command that has judged the environment itself speaks for it.
_lock = threading.Lock()
_reported: set[str] = set()


def first_reports(reports: Iterable[Unknown]) -> list[Unknown]:
    """The reports whose variable was not reported, nor settled, before in this process."""
    with _lock:
        fresh = [report for report in reports if report.name not in _reported]
        _reported.update(report.name for report in fresh)
    return fresh


def settle(environ: Mapping[str, str]) -> None:
    """Mark the variables of ``environ`` as judged, so the library stays quiet about them.

    The CLI judges the environment against every half its command runs (``serve`` may
    run the client too, for its events consumer); the client alone would misjudge it.
    """
    with _lock:
        _reported.update(
            name for name in environ if name.startswith(PREFIX) or name in IGNORED_SETTINGS
        )


def forget_reports() -> None:
    """Report every variable again (tests: each stands for a fresh process)."""
    with _lock:
        _reported.clear()
