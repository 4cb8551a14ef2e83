"""What every event parser produces: one :class:`Event`, or a :class:`MalformedEvent`.

The parsers themselves are in :mod:`~oauthbearer.sidecar.revocation.events` (which
re-exports these names); this module holds the shape they share and the readers of JSON
values they all use, so that a parser may live in a module of its own.

An event revokes one of four things, or nothing:

==============  ==========================================================  ===========
field           what is revoked                                             record kind
==============  ==========================================================  ===========
``principal``   every token of that user issued at or before ``at``         principal
``session``     every token whose ``sid`` is that session                   session
``everyone``    every token issued at or before ``at``, whoever holds it    everyone
``application`` every token of that application issued at or before ``at``  application
==============  ==========================================================  ===========

Example:
    >>> Event("keycloak", "admin.ACTION", None, 1700000000.0, "keycloak:7",
    ...       everyone=True).revokes
    True
    >>> Event("keycloak", "LOGIN", None, None, None).revokes
    False
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from oauthbearer._json import NOT_JSON

__all__ = [
    "Event",
    "MalformedEvent",
    "finite_seconds",
    "ident",
    "load_object",
    "millis",
    "text",
]


class MalformedEvent(ValueError):
    """The payload is not an event of the expected family (→ 400, or counted and skipped)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One parsed event; it revokes nothing unless one of the four targets is set.

    ``at`` is when the revocation takes effect, in epoch seconds: the event's own time,
    or the realm's ``notBefore`` for a Keycloak realm update (``None`` when the event
    carries no time: the time of receipt is used). ``event_id`` is prefixed with the
    family, so ids of two identity providers cannot collide.
    """

    source: str
    type: str
    principal: str | None
    at: float | None
    event_id: str | None
    #: A single session ended (Keycloak's admin "Sign out" of one session): the tokens
    #: whose ``sid`` claim is this one are revoked, not every token of the user.
    session: str | None = None
    #: Every token issued at or before ``at`` (Keycloak's realm-wide sign-out).
    everyone: bool = False
    #: Every token of this application issued at or before ``at`` (FusionAuth's
    #: revocation of all the refresh tokens of one application).
    application: str | None = None

    @property
    def revokes(self) -> bool:
        return (
            self.principal is not None
            or self.session is not None
            or self.everyone
            or self.application is not None
        )

    @classmethod
    def malformed(cls, source: str) -> Event:
        return cls(source, "malformed", None, None, None)


def load_object(payload: bytes | str) -> dict[str, Any]:
    """``payload`` as a JSON object; raises :class:`MalformedEvent` naming no content."""
    try:
        data = json.loads(payload)
    except NOT_JSON as exc:
        # The message names the position only: the payload may quote anything.
        raise MalformedEvent(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise MalformedEvent("not a JSON object")
    return data


#: The longest id (user, session, application, event) an event may carry. Identity
#: providers use UUIDs and snowflakes; a 600 KB "userId" made a record Kafka refuses
#: (503 for ever) and 100,000 of them would hold gigabytes in the store's tables.
MAX_ID_CHARS = 1024


def text(value: object) -> str | None:
    """A non-empty string, or None; :class:`MalformedEvent` for a string no id can be.

    Example:
        >>> text("u-1"), text(""), text(7)
        ('u-1', None, None)
    """
    if not isinstance(value, str) or not value:
        return None
    if len(value) > MAX_ID_CHARS:
        raise MalformedEvent(f"an id longer than {MAX_ID_CHARS} characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no record or key can carry it
            raise MalformedEvent("an id that is not UTF-8 text") from None
    return value


def ident(value: object) -> str | None:
    """An event id: a non-empty string, or a positive integer written as one."""
    # The event-emitter's uid is a snowflake id: a JSON number. Keycloak's own id and
    # FusionAuth's are strings. 0 is no id (as in the emitter's FlatBuffers): taken as
    # one, the first event with uid 0 made every later one a duplicate.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value) if value > 0 else None
    return text(value)


def finite_seconds(value: object) -> float | None:
    """``value`` as a float if it is a finite JSON number; None otherwise (a bool, NaN,
    Infinity, an integer beyond any float: json reads them all, and none is a time).

    Example:
        >>> finite_seconds(5), finite_seconds(float("nan")), finite_seconds(10**400)
        (5.0, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


#: Below this, an event time in "milliseconds" is seconds (it would be before March 1973
#: in milliseconds, and is the year 5138 in seconds).
_SECONDS_BELOW = 100_000_000_000


def millis(value: object) -> float | None:
    """Epoch milliseconds as epoch seconds; None (taken as now) for no time at all.

    0 or less is no time (the emitter's FlatBuffers say "now" with 0), and a value that
    can only be seconds is read as seconds: read as milliseconds, both fell before the
    replay window and the revocation was dropped as too old, silently.

    Example:
        >>> millis(1_700_000_000_000), millis(1_700_000_000), millis(0), millis(-5)
        (1700000000.0, 1700000000.0, None, None)
    """
    number = finite_seconds(value)
    if number is None or number <= 0:
        return None
    return number if number < _SECONDS_BELOW else number / 1000.0
