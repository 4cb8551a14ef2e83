"""The Keycloak emitter's FlatBuffers tables, both generations, built with the Builder.

Each table is made by tests/support/keycloak_flatbuffers.py slot by slot; the decoder reads
them from its own layout description. Bad input — a truncated table, a corrupt offset,
broken base64, an ordinal outside the schema — is a MalformedEvent and nothing else.
"""

from __future__ import annotations

import base64
import contextlib
import json
import struct
import tracemalloc

import flatbuffers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oauthbearer.sidecar.revocation.events import MalformedEvent
from oauthbearer.sidecar.revocation.keycloak_flatbuffers import (
    Generation,
    decode_admin_event,
    decode_event,
    http_flatbuffer_event,
    kafka_admin_record,
    kafka_user_record,
)
from tests.support.keycloak_flatbuffers import (
    ACTION,
    CREATE,
    DELETE,
    DELETE_ACCOUNT_KAFKA,
    LOGIN,
    LOGOUT,
    RESET_PASSWORD,
    RESOURCE_USER,
    RESOURCE_USER_SESSION,
    REVOKE_GRANT,
    UNKNOWN,
    UPDATE,
    AdminEvent,
    UserEvent,
    admin_event_table,
    http_body,
    kafka_value,
    user_event_table,
)

TIME_MS = 1_767_225_600_123
GENERATIONS: tuple[Generation, ...] = ("http", "kafka")
USER = "5f0c1f7e-6b1c-4f2a-9d0e-3b8a7c6d5e4f"


def logout(**overrides: object) -> UserEvent:
    fields: dict[str, object] = {"uid": 77, "time_ms": TIME_MS, "type": LOGOUT, "user_id": USER}
    return UserEvent(**{**fields, **overrides})  # type: ignore[arg-type]


def test_a_user_event_decodes_to_keycloaks_json_shape() -> None:
    table = user_event_table(logout(details={"redirect_uri": "https://app/", "reason": "x"}))
    assert decode_event(table, "http") == {
        "uid": 77,
        "time": TIME_MS,
        "type": "LOGOUT",
        "realmId": "kafka",
        "clientId": "account-console",
        "userId": USER,
        "sessionId": "0ad1b6a3-63a4-4a5b-8a4f-9b0c2d1e3f40",
        "ipAddress": "10.0.0.12",
        "details": {"redirect_uri": "https://app/", "reason": "x"},
    }


@pytest.mark.parametrize(
    ("generation", "ordinal", "name"),
    [
        ("http", REVOKE_GRANT["http"], "REVOKE_GRANT"),
        ("kafka", REVOKE_GRANT["kafka"], "REVOKE_GRANT"),
        ("http", RESET_PASSWORD["http"], "RESET_PASSWORD"),
        ("kafka", RESET_PASSWORD["kafka"], "RESET_PASSWORD"),
        ("kafka", DELETE_ACCOUNT_KAFKA, "DELETE_ACCOUNT"),
    ],
)
def test_revoking_types_by_each_generations_ordinals(
    generation: str, ordinal: int, name: str
) -> None:
    event = kafka_user_record(kafka_value(user_event_table(logout(type=ordinal))))
    if generation == "http":
        event = http_flatbuffer_event(http_body(user_event_table(logout(type=ordinal)), "Event"))
    assert (event.type, event.principal, event.at) == (name, USER, TIME_MS / 1000)
    assert event.event_id == "keycloak:77"


def test_an_ordinal_means_what_its_generation_says() -> None:
    # 38 is REVOKE_GRANT for the Kafka emitter, and some other type for the HTTP one.
    table = user_event_table(logout(type=REVOKE_GRANT["kafka"]))
    assert http_flatbuffer_event(http_body(table, "Event")).principal is None
    assert kafka_user_record(kafka_value(table)).principal == USER


@pytest.mark.parametrize("ordinal", [LOGIN, UNKNOWN["kafka"]])
def test_other_types_and_unknown_revoke_nothing(ordinal: int) -> None:
    event = kafka_user_record(kafka_value(user_event_table(logout(type=ordinal))))
    assert (event.type, event.principal) == ("other", None)


@pytest.mark.parametrize(
    ("generation", "ordinal"),
    # The Kafka generation's type byte is unsigned in the later schema: -123 is 133, one
    # past its last type, and -3 is 253.
    [("http", UNKNOWN["http"] + 1), ("http", -3), ("kafka", -123), ("kafka", -3)],
)
def test_an_ordinal_beyond_the_schema_is_malformed(generation: str, ordinal: int) -> None:
    table = user_event_table(logout(type=ordinal))
    with pytest.raises(MalformedEvent, match="outside the schema"):
        decode_event(table, "http" if generation == "http" else "kafka")


def test_an_event_with_an_error_revokes_nothing() -> None:
    table = user_event_table(logout(error="invalid_user_credentials"))
    assert kafka_user_record(kafka_value(table)).principal is None


def test_absent_uid_and_time_are_no_id_and_no_time() -> None:
    # FlatBuffers leaves out a 0: it must not become id "keycloak:0" or the year 1970.
    event = kafka_user_record(kafka_value(user_event_table(logout(uid=0, time_ms=0))))
    assert (event.principal, event.event_id, event.at) == (USER, None, None)


@pytest.mark.parametrize("generation", ["http", "kafka"])
def test_admin_events_of_both_layouts(generation: str) -> None:
    resource = RESOURCE_USER["http" if generation == "http" else "kafka"]
    delete = AdminEvent(9, TIME_MS, DELETE, resource, f"users/{USER}")
    update_profile = AdminEvent(
        10, TIME_MS, UPDATE, resource, f"users/{USER}", representation='{"enabled": true}'
    )
    disable = AdminEvent(
        11, TIME_MS, UPDATE, resource, f"users/{USER}", representation='{"enabled": false}'
    )
    create = AdminEvent(12, TIME_MS, CREATE, resource, "users/new-user")
    if generation == "http":

        def decode(e: AdminEvent) -> tuple[str, str | None]:
            event = http_flatbuffer_event(http_body(admin_event_table(e, "http"), "AdminEvent"))
            return event.type, event.principal
    else:

        def decode(e: AdminEvent) -> tuple[str, str | None]:
            event = kafka_admin_record(kafka_value(admin_event_table(e, "kafka")))
            return event.type, event.principal

    assert decode(delete) == ("admin.DELETE", USER)
    assert decode(update_profile) == ("admin.UPDATE", None)
    assert decode(disable) == ("admin.UPDATE", USER)
    assert decode(create) == ("admin.CREATE", None)


def test_the_kafka_admin_layout_is_its_own() -> None:
    session = AdminEvent(
        13,
        TIME_MS,
        ACTION,
        RESOURCE_USER_SESSION["kafka"],
        f"users/{USER}/logout",
        details={"k": "v"},
    )
    table = admin_event_table(session, "kafka")
    decoded = decode_admin_event(table, "kafka")
    assert decoded["operationType"] == "ACTION"
    assert decoded["resourceType"] == "USER_SESSION"
    assert decoded["resourcePath"] == f"users/{USER}/logout"
    assert decoded["authDetails"]["username"] == "admin"
    assert decoded["details"] == {"k": "v"}
    # Read with the other generation's slots, the same bytes are not a logout of the user.
    with pytest.raises(MalformedEvent):
        decode_admin_event(table, "http")


def test_an_operation_beyond_the_schema_is_malformed() -> None:
    table = admin_event_table(AdminEvent(1, TIME_MS, 4, 13, "users/u"), "kafka")
    with pytest.raises(MalformedEvent, match="OperationType"):
        decode_admin_event(table, "kafka")


def test_every_truncation_of_a_table_is_malformed_or_still_whole() -> None:
    table = user_event_table(logout())
    for end in range(len(table)):
        try:
            decoded = decode_event(table[:end], "kafka")
        except MalformedEvent:
            continue
        # A cut that left every field it reads intact decodes to the same event.
        assert decoded == decode_event(table, "kafka")


def test_a_corrupt_string_offset_is_malformed() -> None:
    table = bytearray(user_event_table(logout()))
    root = struct.unpack_from("<I", table, 0)[0]
    vtable = root - struct.unpack_from("<i", table, root)[0]
    user_slot = struct.unpack_from("<H", table, vtable + 4 + 2 * 5)[0]
    struct.pack_into("<I", table, root + user_slot, 0x7FFF_FFF0)
    with pytest.raises(MalformedEvent, match="truncated or corrupt"):
        decode_event(bytes(table), "kafka")


def test_a_string_that_is_not_utf8_is_malformed() -> None:
    table = user_event_table(logout(user_id="u-\u00e9"))
    corrupt = table.replace("u-\u00e9".encode(), b"u-\xff\xfe")
    with pytest.raises(MalformedEvent, match="UTF-8"):
        decode_event(corrupt, "kafka")


@pytest.mark.parametrize(
    "value", [b"not base64!", b"AAAA=AAA", "é".encode(), b"", base64.b64encode(b"\x01\x02")]
)
def test_broken_base64_and_tiny_buffers_are_malformed(value: bytes) -> None:
    with pytest.raises(MalformedEvent):
        kafka_user_record(value)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Event"},
        {"type": "Event", "obj": 5},
        {"type": "Nope", "obj": "AAAA"},
        {"type": "Event", "obj": "%%%"},
    ],
)
def test_bad_http_bodies_are_malformed(body: dict[str, object]) -> None:
    with pytest.raises(MalformedEvent):
        http_flatbuffer_event(body)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_malformed(data: bytes) -> None:
    for decode in (decode_event, decode_admin_event):
        for generation in GENERATIONS:
            try:
                decoded = decode(data, generation)
            except MalformedEvent:
                continue
            json.dumps(decoded)  # whatever decodes is plain data


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255))
def test_a_flipped_byte_decodes_or_is_malformed(position: int, byte: int) -> None:
    table = bytearray(admin_event_table(AdminEvent(9, TIME_MS, DELETE, 13, "users/u"), "kafka"))
    table[position % len(table)] = byte
    with contextlib.suppress(MalformedEvent):
        decode_admin_event(bytes(table), "kafka")


@pytest.mark.parametrize("generation", ["http", "kafka"])
def test_an_admin_sign_out_of_one_session_revokes_that_session(generation: Generation) -> None:
    resource = RESOURCE_USER_SESSION[generation]
    sign_out = AdminEvent(14, TIME_MS, DELETE, resource, "sessions/3f1d-session")
    table = admin_event_table(sign_out, generation)
    if generation == "http":
        event = http_flatbuffer_event(http_body(table, "AdminEvent"))
    else:
        event = kafka_admin_record(kafka_value(table))
    assert (event.type, event.principal, event.session) == ("admin.DELETE", None, "3f1d-session")


# -- the Kafka generation's later order: UNKNOWN first, every type one up ---------------


@pytest.mark.parametrize(
    ("ordinal", "name"),
    [
        (LOGOUT + 1, "LOGOUT"),
        (25, "UPDATE_PASSWORD"),
        (REVOKE_GRANT["kafka"] + 1, "REVOKE_GRANT"),
        (DELETE_ACCOUNT_KAFKA + 1, "DELETE_ACCOUNT"),
        (105, "USER_DISABLED_BY_PERMANENT_LOCKOUT"),
        (113, "UPDATE_CREDENTIAL"),
    ],
)
def test_the_later_schemas_ordinals_revoke_as_well(ordinal: int, name: str) -> None:
    """cloudtrust/event-emitter's later events.fbs put UNKNOWN first: LOGOUT is 5. Its
    records were read with the earlier order (5 = LOGOUT_ERROR) and revoked nothing."""
    event = kafka_user_record(kafka_value(user_event_table(logout(type=ordinal))))
    assert (event.type, event.principal) == (name, USER)


def test_the_earlier_schemas_lockout_revokes() -> None:
    event = kafka_user_record(kafka_value(user_event_table(logout(type=104))))
    assert (event.type, event.principal) == ("USER_DISABLED_BY_PERMANENT_LOCKOUT", USER)


@pytest.mark.parametrize("ordinal", [0, LOGOUT + 2, 130 - 256])  # UNKNOWN, _ERROR, a VC type
def test_the_later_schemas_other_types_revoke_nothing(ordinal: int) -> None:
    event = kafka_user_record(kafka_value(user_event_table(logout(type=ordinal))))
    assert (event.type, event.principal, event.session) == ("other", None, None)


def test_an_error_event_revokes_nothing_in_either_order() -> None:
    for ordinal in (LOGOUT, LOGOUT + 1):
        table = user_event_table(logout(type=ordinal, error="invalid_user_credentials"))
        assert kafka_user_record(kafka_value(table)).revokes is False


def test_a_deleted_session_revokes_its_tokens() -> None:
    event = kafka_user_record(kafka_value(user_event_table(logout(type=119))))
    assert event.type == "USER_SESSION_DELETED"
    assert (event.principal, event.session) == (None, "0ad1b6a3-63a4-4a5b-8a4f-9b0c2d1e3f40")


def test_the_later_schemas_session_sign_out_is_told_by_its_path() -> None:
    """USER_SESSION is 16 in the later order (15 in the earlier, 14 over HTTP): the
    session sign-out is recognised by DELETE sessions/<id>, which every order spells alike."""
    sign_out = AdminEvent(15, TIME_MS, DELETE, 16, "sessions/3f1d-session")
    event = kafka_admin_record(kafka_value(admin_event_table(sign_out, "kafka")))
    assert (event.type, event.principal, event.session) == ("admin.DELETE", None, "3f1d-session")


def _shared_string_bomb(length: int, count: int) -> bytes:
    """An Event whose ``count`` details all point at one tuple table, whose key and value
    both point at one string of ``length`` characters: a small buffer, many references."""
    builder = flatbuffers.Builder(length + 8 * count + 1024)
    shared = builder.CreateString("A" * length)
    user = builder.CreateString("u-1")
    builder.StartObject(2)
    builder.PrependUOffsetTRelativeSlot(0, shared, 0)
    builder.PrependUOffsetTRelativeSlot(1, shared, 0)
    pair = builder.EndObject()
    builder.StartVector(4, count, 4)
    for _ in range(count):
        builder.PrependUOffsetTRelative(pair)
    details = builder.EndVector()
    builder.StartObject(10)
    builder.PrependInt64Slot(0, 7, 0)  # uid
    builder.PrependInt64Slot(1, 1_767_225_600_000, 0)  # time
    builder.PrependInt8Slot(2, 4, 0)  # type
    builder.PrependUOffsetTRelativeSlot(5, user, 0)  # userId
    builder.PrependUOffsetTRelativeSlot(9, details, 0)  # details
    builder.Finish(builder.EndObject())
    return bytes(builder.Output())


def test_strings_shared_by_many_references_are_decoded_once() -> None:
    # Decoded at every reference, a 53 KB event took 192 MiB (and a 267 KB one 4.8 GiB
    # and 16 s of the event loop): memory grew with the square of the buffer.
    buf = _shared_string_bomb(length=20_000, count=5_000)
    assert len(buf) < 60_000
    tracemalloc.start()
    try:
        decoded = decode_event(buf, "http")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded["userId"] == "u-1"
    assert peak < 8 * 1024 * 1024, f"{peak / 2**20:.0f} MiB for a {len(buf)}-byte event"
