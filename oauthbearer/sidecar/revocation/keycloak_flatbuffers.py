"""The Keycloak event emitter's FlatBuffers records, decoded from our own layout description.

The emitter (cloudtrust/event-emitter) sends each Keycloak ``Event`` or ``AdminEvent`` as
one FlatBuffers table: in an HTTP body ``{"type": "Event", "obj": "<base64>"}`` (its
HTTP generation, ``format=FLATBUFFER``) or as a base64 Kafka record value (its Kafka
generation, Keycloak 26). Its schema file is AGPL, so it is not copied here: the tables
below *describe* the wire layout (slot order and types, ../shared/CONTRACT.md §7), and
:mod:`~oauthbearer.sidecar.revocation.flatbuffer_tables` reads them.

What comes out is the JSON shape Keycloak's own serialisation has (``type`` as a name,
``operationType`` as a name, ``time`` in ms), so :func:`~oauthbearer.sidecar.revocation.
events.keycloak_event` judges both formats by one set of rules and an event's ``uid``
dedupes across them.

The two generations differ in three ways: the ``EventType``/``ResourceType`` ordinals
(Keycloak inserted values), the ``AdminEvent`` layout (a ``details`` slot inserted after
``authDetails``) and ``AuthDetails`` (``username`` added).

The Kafka generation's schema itself exists in two orders: CONTRACT.md §7's, with
``UNKNOWN`` the last ``EventType``, and the emitter's later ``events.fbs``, which puts
``UNKNOWN`` first and so moves every type up by one (LOGOUT 4 → 5). A record does not say
which wrote it, but its type does: Keycloak's types come in pairs (``X``, ``X_ERROR``),
and only an event without an ``error`` can revoke, so such an event's ordinal is even in
the first order and odd in the second. Admin events are judged by their
``resourcePath``, which both orders spell alike. A truncated or hostile
buffer raises :class:`~oauthbearer.sidecar.revocation.events.MalformedEvent`, never an
``IndexError`` or a read of the wrong bytes (the reader checks every bound).

Example:
    >>> import flatbuffers
    >>> b = flatbuffers.Builder(64)
    >>> user = b.CreateString("u-1")
    >>> b.StartObject(10)
    >>> b.PrependInt64Slot(0, 7, 0); b.PrependInt64Slot(1, 1700000000000, 0)
    >>> b.PrependInt8Slot(2, 4, 0)                         # type: LOGOUT
    >>> b.PrependUOffsetTRelativeSlot(5, user, 0)           # userId
    >>> _ = b.Finish(b.EndObject())
    >>> decode_event(bytes(b.Output()), "http")
    {'uid': 7, 'time': 1700000000000, 'userId': 'u-1', 'type': 'LOGOUT'}
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, TypeGuard

from oauthbearer.sidecar.revocation.events import Event, MalformedEvent, keycloak_event
from oauthbearer.sidecar.revocation.flatbuffer_tables import (
    BYTE,
    LONG,
    STRING,
    TABLE,
    TABLES,
    Field,
    Layout,
    layout,
    read_root,
)

__all__ = [
    "Generation",
    "decode_admin_event",
    "decode_event",
    "http_flatbuffer_event",
    "is_flatbuffer_body",
    "kafka_admin_record",
    "kafka_user_record",
]

#: ``http``: the emitter that POSTs (the Keycloak 3.x schema); ``kafka``: the one that
#: produces to Kafka (Keycloak 26 schema).
Generation = Literal["http", "kafka"]

# -- the layouts: one entry per vtable slot, in slot order ------------------------------

_TUPLE = layout(Field("key", STRING), Field("value", STRING))

_EVENT = layout(
    Field("uid", LONG),
    Field("time", LONG),
    Field("type", BYTE),
    Field("realmId", STRING),
    Field("clientId", STRING),
    Field("userId", STRING),
    Field("sessionId", STRING),
    Field("ipAddress", STRING),
    Field("error", STRING),
    Field("details", TABLES, _TUPLE),
)

_AUTH_DETAILS: dict[Generation, Layout] = {
    "http": layout(
        Field("realmId", STRING),
        Field("clientId", STRING),
        Field("userId", STRING),
        Field("ipAddress", STRING),
    ),
    "kafka": layout(
        Field("realmId", STRING),
        Field("clientId", STRING),
        Field("userId", STRING),
        Field("username", STRING),
        Field("ipAddress", STRING),
    ),
}

_ADMIN_TAIL = (
    Field("resourceType", BYTE),
    Field("operationType", BYTE),
    Field("resourcePath", STRING),
    Field("representation", STRING),
    Field("error", STRING),
)

_ADMIN_EVENT: dict[Generation, Layout] = {
    "http": layout(
        Field("uid", LONG),
        Field("time", LONG),
        Field("realmId", STRING),
        Field("authDetails", TABLE, _AUTH_DETAILS["http"]),
        *_ADMIN_TAIL,
    ),
    # The Kafka generation inserted ``details`` after ``authDetails``: every later slot
    # moved by one.
    "kafka": layout(
        Field("uid", LONG),
        Field("time", LONG),
        Field("realmId", STRING),
        Field("authDetails", TABLE, _AUTH_DETAILS["kafka"]),
        Field("details", TABLES, _TUPLE),
        *_ADMIN_TAIL,
    ),
}

# -- the enums: only the ordinals we act on, per generation ------------------------------

#: EventType ordinals of the types that revoke (Keycloak's own enum order).
_REVOKING_TYPES: dict[Generation, dict[int, str]] = {
    "http": {4: "LOGOUT", 24: "UPDATE_PASSWORD", 32: "REVOKE_GRANT", 40: "RESET_PASSWORD"},
    "kafka": {
        4: "LOGOUT",
        24: "UPDATE_PASSWORD",
        38: "REVOKE_GRANT",
        46: "RESET_PASSWORD",
        100: "DELETE_ACCOUNT",
        104: "USER_DISABLED_BY_PERMANENT_LOCKOUT",
        112: "UPDATE_CREDENTIAL",
        114: "REMOVE_CREDENTIAL",
    },
}
#: The schema's last EventType: what the emitter sends for a type beyond its list. No
#: valid record carries a larger ordinal.
_UNKNOWN_TYPE: dict[Generation, int] = {"http": 82, "kafka": 118}

#: The Kafka generation's later order (``UNKNOWN`` first): every type one up, and the
#: types Keycloak added since (USER_SESSION_DELETED, ...) after INVITE_ORG_ERROR (118).
_REVOKING_TYPES_UNKNOWN_FIRST: dict[int, str] = {
    ordinal + 1: name for ordinal, name in _REVOKING_TYPES["kafka"].items()
} | {119: "USER_SESSION_DELETED"}
#: Its last EventType (JWT_AUTHORIZATION_GRANT_ERROR); UNKNOWN is 0.
_LAST_TYPE_UNKNOWN_FIRST = 132

_OPERATIONS = ("CREATE", "UPDATE", "DELETE", "ACTION")

_RESOURCE_TYPES: dict[Generation, dict[int, str]] = {
    "http": {
        2: "REALM_ROLE_MAPPING",
        12: "USER",
        14: "USER_SESSION",
        18: "GROUP_MEMBERSHIP",
        22: "CLIENT_ROLE_MAPPING",
    },
    "kafka": {
        2: "REALM_ROLE_MAPPING",
        13: "USER",
        15: "USER_SESSION",
        19: "GROUP_MEMBERSHIP",
        23: "CLIENT_ROLE_MAPPING",
    },
}


# -- public entry points ---------------------------------------------------------------


def decode_event(buf: bytes, generation: Generation) -> dict[str, Any]:
    """One ``Event`` table → Keycloak's JSON shape; raises :class:`MalformedEvent`."""
    raw = read_root(buf, _EVENT)
    ordinal = raw.pop("type", 0)
    if generation == "kafka":
        ordinal &= 0xFF  # the later order declares EventType a ubyte: 128-132 are types
    last = _LAST_TYPE_UNKNOWN_FIRST if generation == "kafka" else _UNKNOWN_TYPE[generation]
    if not 0 <= ordinal <= last:
        raise MalformedEvent(f"EventType ordinal {ordinal} is outside the schema")
    # Types we do not act on keep their ordinal: they are judged "other" all the same.
    name = f"#{ordinal}"
    if raw.get("error"):
        pass  # an X_ERROR event: revokes nothing, whichever order wrote it
    elif generation == "kafka" and ordinal % 2 == 1:
        name = _REVOKING_TYPES_UNKNOWN_FIRST.get(ordinal, name)  # the later order
    elif ordinal == _UNKNOWN_TYPE[generation]:
        name = "UNKNOWN"
    else:
        name = _REVOKING_TYPES[generation].get(ordinal, name)
    return _common(raw) | {"type": name}


def decode_admin_event(buf: bytes, generation: Generation) -> dict[str, Any]:
    """One ``AdminEvent`` table → Keycloak's JSON shape; raises :class:`MalformedEvent`."""
    raw = read_root(buf, _ADMIN_EVENT[generation])
    operation = raw.pop("operationType", 0)
    if not 0 <= operation < len(_OPERATIONS):
        raise MalformedEvent(f"OperationType ordinal {operation} is outside the schema")
    resource = raw.pop("resourceType", 0)
    if resource < 0:
        raise MalformedEvent(f"ResourceType ordinal {resource} is outside the schema")
    decoded = _common(raw) | {"operationType": _OPERATIONS[operation]}
    decoded["resourceType"] = _RESOURCE_TYPES[generation].get(resource, f"#{resource}")
    return decoded


def http_flatbuffer_event(data: dict[str, Any]) -> Event:
    """An HTTP-generation ``{"type": "Event"|"AdminEvent", "obj": "<base64>"}`` body."""
    kind, obj = data.get("type"), data.get("obj")
    if not isinstance(obj, str):
        raise MalformedEvent('a FLATBUFFER body carries "obj" as base64 text')
    if kind == "Event":
        return keycloak_event(decode_event(_base64(obj), "http"))
    if kind == "AdminEvent":
        return keycloak_event(decode_admin_event(_base64(obj), "http"))
    raise MalformedEvent('a FLATBUFFER body\'s "type" is "Event" or "AdminEvent"')


def kafka_user_record(value: bytes) -> Event:
    """A record of the Kafka generation's user-event topic (base64 text of an Event)."""
    return keycloak_event(decode_event(_base64(value), "kafka"))


def kafka_admin_record(value: bytes) -> Event:
    """A record of the Kafka generation's admin-event topic (base64 of an AdminEvent)."""
    return keycloak_event(decode_admin_event(_base64(value), "kafka"))


def is_flatbuffer_body(data: object) -> TypeGuard[dict[str, Any]]:
    """True for the HTTP emitter's ``format=FLATBUFFER`` wrapper (not a JSON event).

    Keycloak has no event type named ``Event`` or ``AdminEvent``, and a JSON event has no
    ``obj``, so the two formats cannot be confused.

    Example:
        >>> is_flatbuffer_body({"type": "Event", "obj": "AA=="})
        True
        >>> is_flatbuffer_body({"type": "LOGOUT", "userId": "u-1"})
        False
    """
    return isinstance(data, dict) and "obj" in data and data.get("type") in ("Event", "AdminEvent")


# -- helpers ---------------------------------------------------------------------------


def _common(raw: dict[str, Any]) -> dict[str, Any]:
    # FlatBuffers leaves out a scalar equal to its default (0). A uid of 0 is no id (it
    # would make every later id-less event a "duplicate"), a time of 0 no time (the event
    # would be judged older than any token and ignored).
    for name in ("uid", "time"):
        if raw.get(name, 0) <= 0:
            raw.pop(name, None)
    if isinstance(raw.get("details"), list):
        raw["details"] = {
            pair.get("key"): pair.get("value") for pair in raw["details"] if pair.get("key")
        }
    return raw


def _base64(value: bytes | str) -> bytes:
    try:
        text = value.strip() if isinstance(value, str) else value.decode("ascii").strip()
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise MalformedEvent("not base64") from None
