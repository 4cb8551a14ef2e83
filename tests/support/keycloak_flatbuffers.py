"""Builds Keycloak event-emitter FlatBuffers tables the way the emitter does, for tests.

Written with the ``flatbuffers`` Builder slot by slot from ../shared/CONTRACT.md §7,
independently of the package's decoder (which reads a layout table), so a slot the two
disagree on fails a test instead of cancelling out.

The enum ordinals tests use, per generation (Keycloak's own EventType/ResourceType order).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Literal

import flatbuffers

Generation = Literal["http", "kafka"]

LOGOUT = 4
UPDATE_PASSWORD = 24
REVOKE_GRANT = {"http": 32, "kafka": 38}
RESET_PASSWORD = {"http": 40, "kafka": 46}
DELETE_ACCOUNT_KAFKA = 100
UNKNOWN = {"http": 82, "kafka": 118}
LOGIN = 0
RESOURCE_USER = {"http": 12, "kafka": 13}
RESOURCE_USER_SESSION = {"http": 14, "kafka": 15}
RESOURCE_REALM = 0  # Keycloak's first ResourceType (1 in the later UNKNOWN-first order)
CREATE, UPDATE, DELETE, ACTION = 0, 1, 2, 3


@dataclass
class UserEvent:
    uid: int
    time_ms: int
    type: int
    user_id: str | None
    realm_id: str = "kafka"
    client_id: str = "account-console"
    session_id: str = "0ad1b6a3-63a4-4a5b-8a4f-9b0c2d1e3f40"
    ip_address: str = "10.0.0.12"
    error: str | None = None
    details: dict[str, str] = field(default_factory=lambda: {"redirect_uri": "https://app/"})


@dataclass
class AdminEvent:
    uid: int
    time_ms: int
    operation: int
    resource_type: int
    resource_path: str | None  # None: left out, as for a realm update
    representation: str | None = None
    error: str | None = None
    realm_id: str = "kafka"
    admin_user_id: str = "admin-user-id"
    details: dict[str, str] = field(default_factory=dict)


def _strings(b: flatbuffers.Builder, *values: str | None) -> list[int | None]:
    return [b.CreateString(v) if v is not None else None for v in values]


def _tuples(b: flatbuffers.Builder, details: dict[str, str]) -> int:
    tables = []
    for key, value in details.items():
        k, v = b.CreateString(key), b.CreateString(value)
        b.StartObject(2)
        b.PrependUOffsetTRelativeSlot(0, k, 0)
        b.PrependUOffsetTRelativeSlot(1, v, 0)
        tables.append(b.EndObject())
    b.StartVector(4, len(tables), 4)
    for table in reversed(tables):
        b.PrependUOffsetTRelative(table)
    return int(b.EndVector())


def _slot(b: flatbuffers.Builder, slot: int, offset: int | None) -> None:
    if offset is not None:
        b.PrependUOffsetTRelativeSlot(slot, offset, 0)


def user_event_table(event: UserEvent) -> bytes:
    """``Event``: uid, time, type, realmId, clientId, userId, sessionId, ipAddress, error,
    details — the same slots in both generations."""
    b = flatbuffers.Builder(256)
    realm, client, user, session, ip, error = _strings(
        b,
        event.realm_id,
        event.client_id,
        event.user_id,
        event.session_id,
        event.ip_address,
        event.error,
    )
    details = _tuples(b, event.details)
    b.StartObject(10)
    b.PrependInt64Slot(0, event.uid, 0)
    b.PrependInt64Slot(1, event.time_ms, 0)
    b.PrependInt8Slot(2, event.type, 0)
    for slot, offset in enumerate((realm, client, user, session, ip, error), start=3):
        _slot(b, slot, offset)
    _slot(b, 9, details)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def admin_event_table(event: AdminEvent, generation: Generation) -> bytes:
    """``AdminEvent``; the Kafka generation has ``details`` at slot 4 and AuthDetails with
    ``username``, so every later slot is one further on."""
    b = flatbuffers.Builder(256)
    realm, path, representation, error = _strings(
        b, event.realm_id, event.resource_path, event.representation, event.error
    )
    auth_realm, auth_client, auth_user, auth_name, auth_ip = _strings(
        b, "master", "security-admin-console", event.admin_user_id, "admin", "10.0.0.2"
    )
    if generation == "http":
        b.StartObject(4)
        for slot, offset in enumerate((auth_realm, auth_client, auth_user, auth_ip)):
            _slot(b, slot, offset)
    else:
        b.StartObject(5)
        for slot, offset in enumerate((auth_realm, auth_client, auth_user, auth_name, auth_ip)):
            _slot(b, slot, offset)
    auth = b.EndObject()
    details = _tuples(b, event.details) if generation == "kafka" else None
    shift = 1 if generation == "kafka" else 0
    b.StartObject(9 + shift)
    b.PrependInt64Slot(0, event.uid, 0)
    b.PrependInt64Slot(1, event.time_ms, 0)
    _slot(b, 2, realm)
    _slot(b, 3, auth)
    if generation == "kafka":
        _slot(b, 4, details)
    b.PrependInt8Slot(4 + shift, event.resource_type, 0)
    b.PrependInt8Slot(5 + shift, event.operation, 0)
    _slot(b, 6 + shift, path)
    _slot(b, 7 + shift, representation)
    _slot(b, 8 + shift, error)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def http_body(table: bytes, kind: Literal["Event", "AdminEvent"]) -> dict[str, str]:
    """The HTTP emitter's ``format=FLATBUFFER`` body around one table."""
    return {"type": kind, "obj": base64.b64encode(table).decode()}


def kafka_value(table: bytes) -> bytes:
    """The Kafka emitter's record value: base64 text of the table, no wrapper."""
    return base64.b64encode(table)
