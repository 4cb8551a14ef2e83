"""The Keycloak event emitter's FlatBuffers records, decoded from our own layout description.

The emitter (cloudtrust/event-emitter) sends each Keycloak ``Event`` or ``AdminEvent`` as
one FlatBuffers table: in an HTTP body ``{"type": "Event", "obj": "<base64>"}`` (its
HTTP generation, ``format=FLATBUFFER``) or as a base64 Kafka record value (its Kafka
generation, Keycloak 26). Its schema file is AGPL, so it is not copied here: the tables
below *describe* the wire layout (slot order and types, ../shared/CONTRACT.md §7), and
the ``flatbuffers`` runtime's :class:`~flatbuffers.table.Table` reads them.

What comes out is the JSON shape Keycloak's own serialisation has (``type`` as a name,
``operationType`` as a name, ``time`` in ms), so :func:`~oauthbearer.sidecar.revocation.
events.keycloak_event` judges both formats by one set of rules and an event's ``uid``
dedupes across them.

The two generations differ in three ways: the ``EventType``/``ResourceType`` ordinals
(Keycloak inserted values), the ``AdminEvent`` layout (a ``details`` slot inserted after
``authDetails``) and ``AuthDetails`` (``username`` added). A table from an untrusted peer
is bounds-checked at every step: the runtime itself reads wherever an offset points
(Python's ``unpack_from`` even accepts negative offsets), so a truncated or hostile
buffer raises :class:`~oauthbearer.sidecar.revocation.events.MalformedEvent` here and
never an ``IndexError`` or a read of the wrong bytes.

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
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from flatbuffers import number_types
from flatbuffers.table import Table

from oauthbearer.sidecar.revocation.events import Event, MalformedEvent, keycloak_event

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

_LONG, _BYTE, _STRING, _TABLE, _TABLES = "long", "byte", "string", "table", "tables"


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: str
    layout: tuple[_Field, ...] = ()


def _layout(*fields: _Field) -> tuple[_Field, ...]:
    return fields


# -- the layouts: one entry per vtable slot, in slot order ------------------------------

_TUPLE = _layout(_Field("key", _STRING), _Field("value", _STRING))

_EVENT = _layout(
    _Field("uid", _LONG),
    _Field("time", _LONG),
    _Field("type", _BYTE),
    _Field("realmId", _STRING),
    _Field("clientId", _STRING),
    _Field("userId", _STRING),
    _Field("sessionId", _STRING),
    _Field("ipAddress", _STRING),
    _Field("error", _STRING),
    _Field("details", _TABLES, _TUPLE),
)

_AUTH_DETAILS: dict[Generation, tuple[_Field, ...]] = {
    "http": _layout(
        _Field("realmId", _STRING),
        _Field("clientId", _STRING),
        _Field("userId", _STRING),
        _Field("ipAddress", _STRING),
    ),
    "kafka": _layout(
        _Field("realmId", _STRING),
        _Field("clientId", _STRING),
        _Field("userId", _STRING),
        _Field("username", _STRING),
        _Field("ipAddress", _STRING),
    ),
}

_ADMIN_TAIL = (
    _Field("resourceType", _BYTE),
    _Field("operationType", _BYTE),
    _Field("resourcePath", _STRING),
    _Field("representation", _STRING),
    _Field("error", _STRING),
)

_ADMIN_EVENT: dict[Generation, tuple[_Field, ...]] = {
    "http": _layout(
        _Field("uid", _LONG),
        _Field("time", _LONG),
        _Field("realmId", _STRING),
        _Field("authDetails", _TABLE, _AUTH_DETAILS["http"]),
        *_ADMIN_TAIL,
    ),
    # The Kafka generation inserted ``details`` after ``authDetails``: every later slot
    # moved by one.
    "kafka": _layout(
        _Field("uid", _LONG),
        _Field("time", _LONG),
        _Field("realmId", _STRING),
        _Field("authDetails", _TABLE, _AUTH_DETAILS["kafka"]),
        _Field("details", _TABLES, _TUPLE),
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
        112: "UPDATE_CREDENTIAL",
        114: "REMOVE_CREDENTIAL",
    },
}
#: The schema's last EventType: what the emitter sends for a type beyond its list. No
#: valid record carries a larger ordinal.
_UNKNOWN_TYPE: dict[Generation, int] = {"http": 82, "kafka": 118}

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
    raw = _read(buf, _EVENT)
    ordinal = raw.pop("type", 0)
    if not 0 <= ordinal <= _UNKNOWN_TYPE[generation]:
        raise MalformedEvent(f"EventType ordinal {ordinal} is outside the schema")
    if ordinal == _UNKNOWN_TYPE[generation]:
        name = "UNKNOWN"
    else:
        # Types we do not act on keep their ordinal: they are judged "other" all the same.
        name = _REVOKING_TYPES[generation].get(ordinal, f"#{ordinal}")
    return _common(raw) | {"type": name}


def decode_admin_event(buf: bytes, generation: Generation) -> dict[str, Any]:
    """One ``AdminEvent`` table → Keycloak's JSON shape; raises :class:`MalformedEvent`."""
    raw = _read(buf, _ADMIN_EVENT[generation])
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


# -- reading ---------------------------------------------------------------------------


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


_U32 = number_types.UOffsetTFlags
_S32 = number_types.SOffsetTFlags
_U16 = number_types.VOffsetTFlags
_SCALARS = {_LONG: number_types.Int64Flags, _BYTE: number_types.Int8Flags}


def _need(buf: bytes, pos: int, size: int) -> None:
    if pos < 0 or size < 0 or pos + size > len(buf):
        raise MalformedEvent("truncated or corrupt FlatBuffers table")


def _read(buf: bytes, layout: tuple[_Field, ...]) -> dict[str, Any]:
    _need(buf, 0, 4)
    root = Table(buf, 0).Get(_U32, 0)
    return _read_table(buf, root, layout)


def _table(buf: bytes, pos: int) -> Table:
    """A :class:`Table` at ``pos`` whose vtable lies wholly inside ``buf``."""
    _need(buf, pos, 4)
    table = Table(buf, pos)
    vtable = pos - table.Get(_S32, pos)
    _need(buf, vtable, 4)
    vtable_size = table.Get(_U16, vtable)
    if vtable_size < 4 or vtable_size % 2:
        raise MalformedEvent("corrupt FlatBuffers vtable")
    _need(buf, vtable, vtable_size)
    return table


def _indirect(buf: bytes, table: Table, pos: int) -> int:
    _need(buf, pos, 4)
    return pos + int(table.Get(_U32, pos))


def _read_table(buf: bytes, pos: int, layout: tuple[_Field, ...]) -> dict[str, Any]:
    table = _table(buf, pos)
    out: dict[str, Any] = {}
    for slot, field in enumerate(layout):
        offset = table.Offset(4 + 2 * slot)
        if offset == 0:
            continue  # absent: a default scalar, or an unset string/table/vector
        at = table.Pos + offset
        if field.kind in _SCALARS:
            flags = _SCALARS[field.kind]
            _need(buf, at, flags.bytewidth)
            out[field.name] = table.Get(flags, at)
        elif field.kind == _STRING:
            out[field.name] = _string(buf, table, at)
        elif field.kind == _TABLE:
            out[field.name] = _read_table(buf, _indirect(buf, table, at), field.layout)
        else:
            vector = _indirect(buf, table, at)
            _need(buf, vector, 4)
            count = table.Get(_U32, vector)
            _need(buf, vector + 4, 4 * count)  # also bounds the loop by the buffer's size
            out[field.name] = [
                _read_table(buf, _indirect(buf, table, vector + 4 + 4 * i), field.layout)
                for i in range(count)
            ]
    return out


def _string(buf: bytes, table: Table, at: int) -> str:
    start = _indirect(buf, table, at)
    _need(buf, start, 4)
    length = table.Get(_U32, start)
    _need(buf, start + 4, length)
    try:
        return bytes(buf[start + 4 : start + 4 + length]).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedEvent("a FlatBuffers string is not UTF-8") from None
