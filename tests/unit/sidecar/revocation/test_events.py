"""Event parsers: every FusionAuth and Keycloak shape we act on, ignore, or refuse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from oauthbearer.sidecar.revocation.events import (
    Event,
    MalformedEvent,
    parse_fusionauth,
    parse_keycloak,
    parse_record,
)

USER = "2c3a4b5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"
CREATED_MS = 1_767_225_600_123


def fusionauth(kind: str, **event: Any) -> bytes:
    body = {"event": {"type": kind, "id": "9b0f1a2c-evt", "createInstant": CREATED_MS, **event}}
    return json.dumps(body).encode()


# --- FusionAuth ------------------------------------------------------------------------


def test_refresh_token_revoke_uses_user_id() -> None:
    payload = fusionauth(
        "jwt.refresh-token.revoke",
        applicationId="3c219e58-ed0e-4b18-ad48-f4f92793ae32",
        applicationTimeToLiveInSeconds={"3c219e58-ed0e-4b18-ad48-f4f92793ae32": 2592000},
        userId=USER,
        user={"id": USER, "email": "fake@example.com"},
    )
    assert parse_fusionauth(payload) == Event(
        "fusionauth", "jwt.refresh-token.revoke", USER, CREATED_MS / 1000, "fusionauth:9b0f1a2c-evt"
    )


@pytest.mark.parametrize("kind", ["user.deactivate", "user.delete", "user.password.update"])
def test_user_events_use_user_dot_id(kind: str) -> None:
    payload = fusionauth(kind, user={"id": USER, "active": False, "email": "fake@example.com"})
    event = parse_fusionauth(payload)
    assert (event.type, event.principal, event.at) == (kind, USER, CREATED_MS / 1000)


def test_application_wide_refresh_token_revoke_names_no_principal() -> None:
    event = parse_fusionauth(fusionauth("jwt.refresh-token.revoke", applicationId="app"))
    assert event.principal is None
    assert event.type == "jwt.refresh-token.revoke"


@pytest.mark.parametrize("kind", ["user.login.success", "user.create", "something.new"])
def test_unknown_fusionauth_types_are_ignored(kind: str) -> None:
    event = parse_fusionauth(fusionauth(kind, user={"id": USER}))
    assert (event.type, event.principal) == ("other", None)


def test_fusionauth_without_time_or_id() -> None:
    event = parse_fusionauth(b'{"event": {"type": "user.delete", "user": {"id": "u"}}}')
    assert (event.principal, event.at, event.event_id) == ("u", None, None)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"type": "user.delete"}',
        b'{"event": "user.delete"}',
        b'{"event": {"type": 7}}',
        b"",
    ],
)
def test_malformed_fusionauth(payload: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_fusionauth(payload)


# --- Keycloak (the event-emitter module's JSON) ----------------------------------------

# Keycloak's Event and AdminEvent as the event-emitter module serialises them to JSON: the
# fields of Keycloak's classes plus the emitter's unique "uid".
KEYCLOAK_LOGOUT = {
    "uid": 1843012345678901234,  # the emitter's snowflake id (idempotence)
    "id": "f1d5c7a0-3c1b-4a43-8d3f-0e1b9a7e2c55",
    "time": CREATED_MS,
    "type": "LOGOUT",
    "realmId": "kafka",
    "clientId": "account-console",
    "userId": USER,
    "sessionId": "0ad1b6a3-63a4-4a5b-8a4f-9b0c2d1e3f40",
    "ipAddress": "10.0.0.12",
    "error": None,
    "details": {"redirect_uri": "https://app.example/"},
}

KEYCLOAK_ADMIN_DELETE = {
    "uid": 1843012345678905678,
    "id": "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
    "time": CREATED_MS,
    "realmId": "kafka",
    "authDetails": {
        "realmId": "master",
        "clientId": "security-admin-console",
        "userId": "admin-user-id",
        "ipAddress": "10.0.0.2",
    },
    "resourceType": "USER",
    "operationType": "DELETE",
    "resourcePath": f"users/{USER}",
    "representation": None,
    "error": None,
}


@pytest.mark.parametrize(
    "kind", ["LOGOUT", "REVOKE_GRANT", "UPDATE_PASSWORD", "RESET_PASSWORD", "DELETE_ACCOUNT"]
)
def test_keycloak_user_events_that_revoke(kind: str) -> None:
    event = parse_keycloak(json.dumps({**KEYCLOAK_LOGOUT, "type": kind}))
    assert event == Event(
        "keycloak", kind, USER, CREATED_MS / 1000, f"keycloak:{KEYCLOAK_LOGOUT['uid']}"
    )


def test_keycloak_event_id_falls_back_to_id() -> None:
    body = {k: v for k, v in KEYCLOAK_LOGOUT.items() if k != "uid"}
    assert parse_keycloak(json.dumps(body)).event_id == f"keycloak:{KEYCLOAK_LOGOUT['id']}"


@pytest.mark.parametrize("kind", ["LOGIN", "CODE_TO_TOKEN", "REFRESH_TOKEN", "LOGOUT_ERROR"])
def test_keycloak_user_events_that_do_not(kind: str) -> None:
    event = parse_keycloak(json.dumps({**KEYCLOAK_LOGOUT, "type": kind}))
    assert (event.type, event.principal) == ("other", None)


def test_keycloak_failed_event_revokes_nothing() -> None:
    body = {**KEYCLOAK_LOGOUT, "type": "UPDATE_PASSWORD", "error": "invalid_user_credentials"}
    assert parse_keycloak(json.dumps(body)).principal is None


def test_keycloak_admin_delete_of_a_user() -> None:
    event = parse_keycloak(json.dumps(KEYCLOAK_ADMIN_DELETE))
    assert (event.type, event.principal, event.at) == ("admin.DELETE", USER, CREATED_MS / 1000)
    assert event.event_id == f"keycloak:{KEYCLOAK_ADMIN_DELETE['uid']}"


@pytest.mark.parametrize(
    ("operation", "path", "representation", "revokes"),
    [
        ("ACTION", f"users/{USER}/logout", None, True),
        ("ACTION", f"users/{USER}/reset-password", None, True),
        ("DELETE", f"users/{USER}/role-mappings/realm", "[]", True),
        ("DELETE", f"users/{USER}/consents/kafka", None, True),
        ("UPDATE", f"users/{USER}", json.dumps({"id": USER, "enabled": False}), True),
        ("UPDATE", f"users/{USER}", None, True),  # no representation: cannot tell
        ("UPDATE", f"users/{USER}", json.dumps({"id": USER, "enabled": True}), False),
        ("CREATE", f"users/{USER}", json.dumps({"id": USER}), False),
        ("DELETE", "clients/abc", None, False),
        ("DELETE", "users", None, False),
        ("DELETE", "sessions/3f1d", None, False),  # a session: see the next test
        # E-mails an admin sends, and an impersonation, change nothing the user holds.
        ("ACTION", f"users/{USER}/execute-actions-email", None, False),
        ("ACTION", f"users/{USER}/send-verify-email", None, False),
        ("ACTION", f"users/{USER}/impersonation", None, False),
        ("ACTION", f"users/{USER}/disable-credential-types", None, True),
        ("DELETE", f"users/{USER}/credentials/otp-1", None, True),
    ],
)
def test_keycloak_admin_events(
    operation: str, path: str, representation: str | None, revokes: bool
) -> None:
    body = {
        **KEYCLOAK_ADMIN_DELETE,
        "operationType": operation,
        "resourcePath": path,
        "representation": representation,
    }
    event = parse_keycloak(json.dumps(body))
    assert event.type == f"admin.{operation}"
    assert event.principal == (USER if revokes else None)


@pytest.mark.parametrize(
    "payload",
    [
        b"{",
        b'"LOGOUT"',
        b'{"userId": "u"}',
        b'{"operationType": "PURGE", "resourcePath": "users/u"}',
    ],
)
def test_malformed_keycloak(payload: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_keycloak(payload)


def test_parse_record_detects_the_family() -> None:
    assert parse_record(fusionauth("user.delete", user={"id": USER})).source == "fusionauth"
    assert parse_record(json.dumps(KEYCLOAK_LOGOUT).encode()).source == "keycloak"
    with pytest.raises(MalformedEvent):
        parse_record(b"\x00garbage")


def test_malformed_messages_never_quote_the_payload() -> None:
    with pytest.raises(MalformedEvent) as info:
        parse_fusionauth(b'{"event": "fake-secret-in-payload"')
    assert "fake-secret" not in str(info.value)


# SnuK87/keycloak-kafka (the most used Keycloak -> Kafka listener) publishes
# ObjectMapper.writeValueAsString(event) of Keycloak's own classes: every bean property,
# nulls included, "id" as the event id (org.keycloak.events.Event has no "uid").
SNUK87_LOGOUT = (
    b'{"id":"6b8f0c52-0c7a-4a63-9e2e-1d3b7f5a2c11","time":1795459200123,"type":"LOGOUT",'
    b'"realmId":"kafka","clientId":"account-console","userId":"9f4e2d1c-user",'
    b'"sessionId":"0ad1b6a3-63a4-4a5b-8a4f-9b0c2d1e3f40","ipAddress":"10.0.0.7",'
    b'"error":null,"details":{"redirect_uri":"https://app.example/"}}'
)
SNUK87_ADMIN_DELETE = (
    b'{"id":"f2a9e1d0-admin","time":1795459200456,"realmId":"kafka",'
    b'"authDetails":{"realmId":"master","clientId":"admin-cli","userId":"admin-id",'
    b'"ipAddress":"10.0.0.8"},"resourceType":"USER","operationType":"DELETE",'
    b'"resourcePath":"users/9f4e2d1c-user","representation":null,"error":null,'
    b'"details":null}'
)


def test_keycloak_events_as_the_kafka_listener_serialises_them() -> None:
    logout = parse_record(SNUK87_LOGOUT)
    assert (logout.type, logout.principal, logout.at, logout.event_id) == (
        "LOGOUT",
        "9f4e2d1c-user",
        1795459200.123,
        "keycloak:6b8f0c52-0c7a-4a63-9e2e-1d3b7f5a2c11",
    )
    deleted = parse_record(SNUK87_ADMIN_DELETE)
    assert (deleted.type, deleted.principal, deleted.event_id) == (
        "admin.DELETE",
        "9f4e2d1c-user",
        "keycloak:f2a9e1d0-admin",
    )


def test_a_realm_update_without_a_resource_path_is_ignored_not_malformed() -> None:
    """Realm settings saved (or "Set to now" under Revocation): Keycloak sends UPDATE with
    resourcePath null. A 400 for it stalled the HTTP emitter, which puts a refused event
    back and stops sending until the next one."""
    body = {**KEYCLOAK_ADMIN_DELETE, "operationType": "UPDATE", "resourceType": "REALM"}
    body["resourcePath"] = None
    event = parse_keycloak(json.dumps(body))
    assert (event.type, event.revokes) == ("admin.UPDATE", False)
    del body["resourcePath"]
    assert parse_keycloak(json.dumps(body)).revokes is False


def test_a_permanent_lockout_revokes_and_a_deleted_session_revokes_its_tokens() -> None:
    locked = parse_keycloak(
        json.dumps({**KEYCLOAK_LOGOUT, "type": "USER_DISABLED_BY_PERMANENT_LOCKOUT"})
    )
    assert (locked.type, locked.principal) == ("USER_DISABLED_BY_PERMANENT_LOCKOUT", USER)
    ended = parse_keycloak(json.dumps({**KEYCLOAK_LOGOUT, "type": "USER_SESSION_DELETED"}))
    assert (ended.principal, ended.session) == (None, KEYCLOAK_LOGOUT["sessionId"])
    failed = {**KEYCLOAK_LOGOUT, "type": "USER_SESSION_DELETED", "error": "x"}
    assert parse_keycloak(json.dumps(failed)).revokes is False


def test_fusionauths_non_transactional_delete_revokes() -> None:
    event = parse_fusionauth(fusionauth("user.delete.complete", user={"id": USER}))
    assert (event.type, event.principal) == ("user.delete.complete", USER)


def test_keycloak_admin_sign_out_of_one_session_names_the_session() -> None:
    # The admin console's "Sign out" on one session: DELETE sessions/<id>, resource type
    # USER_SESSION, and no user LOGOUT event from Keycloak.
    body = {
        **KEYCLOAK_ADMIN_DELETE,
        "operationType": "DELETE",
        "resourceType": "USER_SESSION",
        "resourcePath": "sessions/3f1d-session",
    }
    event = parse_keycloak(json.dumps(body))
    assert (event.principal, event.session, event.revokes) == (None, "3f1d-session", True)
    failed = parse_keycloak(json.dumps({**body, "error": "not_found"}))
    assert not failed.revokes


@pytest.mark.parametrize(
    ("operation", "representation", "application", "at"),
    [
        # Disabled, or its Revocation tab's "Set to now": Keycloak refuses its tokens.
        ("UPDATE", {"clientId": "orders-service", "enabled": False}, "orders-service", None),
        (
            "UPDATE",
            {"clientId": "orders-service", "notBefore": 1_700_000_500},
            "orders-service",
            1_700_000_500.0,
        ),
        ("DELETE", {"clientId": "orders-service"}, "orders-service", None),
        # A settings edit, a "Clear", or nothing to tell which client: nothing revoked.
        ("UPDATE", {"clientId": "orders-service", "enabled": True}, None, None),
        ("UPDATE", {"clientId": "orders-service", "notBefore": 0}, None, None),
        ("UPDATE", {"enabled": False}, None, None),
        ("DELETE", None, None, None),
        ("CREATE", {"clientId": "orders-service", "enabled": False}, None, None),
    ],
)
def test_keycloak_admin_events_on_a_client_revoke_its_tokens(
    operation: str,
    representation: dict[str, object] | None,
    application: str | None,
    at: float | None,
) -> None:
    body = {
        **KEYCLOAK_ADMIN_DELETE,
        "resourceType": "CLIENT",
        "operationType": operation,
        "resourcePath": "clients/8c1e-internal-id",
        "representation": None if representation is None else json.dumps(representation),
    }
    event = parse_keycloak(json.dumps(body))
    assert (event.principal, event.application) == (None, application)
    assert event.revokes == (application is not None)
    if application is not None:
        assert event.at == (CREATED_MS / 1000 if at is None else at)


@pytest.mark.parametrize(
    "path", ["users/\ud800", "sessions/\udfff", "users/" + "u" * 2000, "sessions/" + "s" * 2000]
)
def test_ids_cut_out_of_an_admin_event_s_path_are_judged_like_json_ids(path: str) -> None:
    # A lone surrogate made a record key no encoder takes (a 500 on every retry); 2,000
    # characters a record Kafka refuses. As JSON userIds both were a 400 already.
    body = {**KEYCLOAK_ADMIN_DELETE, "resourcePath": path}
    with pytest.raises(MalformedEvent):
        parse_keycloak(json.dumps(body))
