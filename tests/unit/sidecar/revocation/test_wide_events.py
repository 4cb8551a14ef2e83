"""Revocations wider than one principal, as the identity providers send them.

Keycloak's admin console: Sessions → "Sign out all active sessions" (``ACTION
logout-all``) and "Set to now" (a realm
``UPDATE`` with no resourcePath whose representation carries ``notBefore``), in the JSON
format and in the FlatBuffers tables of both emitter generations. FusionAuth: a
``jwt.refresh-token.revoke`` for every refresh token of one application (no ``userId``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from oauthbearer.sidecar.revocation.events import parse_fusionauth, parse_keycloak
from oauthbearer.sidecar.revocation.keycloak_flatbuffers import (
    Generation,
    http_flatbuffer_event,
    kafka_admin_record,
)
from tests.support.keycloak_flatbuffers import (
    ACTION,
    RESOURCE_REALM,
    UPDATE,
    AdminEvent,
    admin_event_table,
    http_body,
    kafka_value,
)
from tests.unit.sidecar.revocation.test_events import (
    CREATED_MS,
    KEYCLOAK_ADMIN_DELETE,
    fusionauth,
)

APP = "85a03867-dccf-4882-adde-1a79aeec50df"
NOT_BEFORE = 1_767_225_000  # "Set to now" a few minutes before the event's own time


def realm_admin(operation: str, path: str | None, representation: Any = None) -> dict[str, Any]:
    """A realm-level admin event as Keycloak's AdminEvent serialises it."""
    return {
        **KEYCLOAK_ADMIN_DELETE,
        "resourceType": "REALM",
        "operationType": operation,
        "resourcePath": path,
        "representation": representation,
    }


# --- Keycloak JSON ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["logout-all", "/logout-all"])
def test_sign_out_all_revokes_everyone_at_the_events_time(path: str) -> None:
    result = '{"successRequests":[],"failedRequests":[]}'  # a GlobalRequestResult
    event = parse_keycloak(json.dumps(realm_admin("ACTION", path, result)))
    assert (event.type, event.principal, event.session) == ("admin.ACTION", None, None)
    assert event.everyone
    assert event.revokes
    assert event.at == CREATED_MS / 1000
    assert event.event_id == f"keycloak:{KEYCLOAK_ADMIN_DELETE['uid']}"


def test_a_failed_sign_out_all_revokes_nothing() -> None:
    body = {**realm_admin("ACTION", "logout-all"), "error": "unknown_error"}
    event = parse_keycloak(json.dumps(body))
    assert not event.everyone
    assert not event.revokes


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        ("CREATE", "logout-all"),
        ("DELETE", "logout-all"),
        ("ACTION", "clients/c-1/push-revocation"),  # one client's, not the realm's
        # "Push" re-sends the realm's notBefore to its clients; it moves nothing.
        ("ACTION", "push-revocation"),
        ("ACTION", "users/u-1/logout-all"),
        ("ACTION", "logout-all/more"),
        ("ACTION", "clear-realm-cache"),
    ],
)
def test_other_realm_actions_revoke_nothing(operation: str, path: str) -> None:
    event = parse_keycloak(json.dumps(realm_admin(operation, path)))
    assert not event.everyone
    assert not event.revokes


@pytest.mark.parametrize("as_text", [True, False])
def test_set_to_now_revokes_everyone_issued_at_or_before_not_before(as_text: bool) -> None:
    # Keycloak sends the representation as a JSON string; an already decoded object is
    # read the same way.
    realm = {"realm": "kafka", "notBefore": NOT_BEFORE, "enabled": True}
    representation: Any = json.dumps(realm) if as_text else realm
    for path in (None, ""):
        event = parse_keycloak(json.dumps(realm_admin("UPDATE", path, representation)))
        assert (event.type, event.everyone, event.revokes) == ("admin.UPDATE", True, True)
        assert event.at == NOT_BEFORE  # not the event's own time
    without_path = realm_admin("UPDATE", None, representation)
    del without_path["resourcePath"]
    assert parse_keycloak(json.dumps(without_path)).at == NOT_BEFORE


@pytest.mark.parametrize(
    "representation",
    [
        json.dumps({"realm": "kafka", "notBefore": 0}),  # "Clear": revokes nothing
        json.dumps({"realm": "kafka", "displayName": "Kafka"}),  # another setting saved
        json.dumps({"realm": "kafka", "notBefore": "soon"}),
        json.dumps({"realm": "kafka", "notBefore": True}),
        json.dumps({"realm": "kafka", "notBefore": -5}),
        json.dumps([1, 2]),
        "{not json",
        None,
    ],
)
def test_a_realm_update_without_a_usable_not_before_is_ignored_not_malformed(
    representation: str | None,
) -> None:
    event = parse_keycloak(json.dumps(realm_admin("UPDATE", None, representation)))
    assert (event.type, event.everyone, event.revokes) == ("admin.UPDATE", False, False)


def test_a_not_before_on_a_resource_with_a_path_is_not_the_realms() -> None:
    # A client's or a user's representation has a notBefore of its own.
    rep = json.dumps({"clientId": "kafka", "notBefore": NOT_BEFORE})
    event = parse_keycloak(json.dumps(realm_admin("UPDATE", "clients/c-1", rep)))
    assert not event.everyone


# --- Keycloak FlatBuffers, both generations --------------------------------------------


def _decode(event: AdminEvent, generation: Generation) -> Any:
    table = admin_event_table(event, generation)
    if generation == "http":
        return http_flatbuffer_event(http_body(table, "AdminEvent"))
    return kafka_admin_record(kafka_value(table))


@pytest.mark.parametrize("generation", ["http", "kafka"])
def test_flatbuffer_sign_out_all_revokes_everyone(generation: Generation) -> None:
    event = _decode(AdminEvent(31, CREATED_MS, ACTION, RESOURCE_REALM, "logout-all"), generation)
    assert (event.everyone, event.principal, event.at) == (True, None, CREATED_MS / 1000)
    assert event.event_id == "keycloak:31"


@pytest.mark.parametrize("generation", ["http", "kafka"])
@pytest.mark.parametrize("resource_type", [RESOURCE_REALM, 1])  # 1: the later order's REALM
def test_flatbuffer_set_to_now_revokes_everyone_at_not_before(
    generation: Generation, resource_type: int
) -> None:
    rep = json.dumps({"realm": "kafka", "notBefore": NOT_BEFORE})
    update = AdminEvent(32, CREATED_MS, UPDATE, resource_type, None, representation=rep)
    event = _decode(update, generation)
    assert (event.type, event.everyone, event.at) == ("admin.UPDATE", True, NOT_BEFORE)


@pytest.mark.parametrize("generation", ["http", "kafka"])
def test_flatbuffer_realm_update_without_not_before_is_ignored(generation: Generation) -> None:
    cleared = json.dumps({"realm": "kafka", "notBefore": 0})
    for rep in (None, cleared):
        update = AdminEvent(33, CREATED_MS, UPDATE, RESOURCE_REALM, None, representation=rep)
        event = _decode(update, generation)
        assert (event.type, event.revokes) == ("admin.UPDATE", False)


# --- FusionAuth ------------------------------------------------------------------------


def test_fusionauth_application_wide_refresh_token_revoke_names_the_application() -> None:
    payload = fusionauth(
        "jwt.refresh-token.revoke",
        tenantId="t-1",
        applicationId=APP,
        applicationTimeToLiveInSeconds={APP: 3600},
    )
    event = parse_fusionauth(payload)
    assert (event.principal, event.application, event.everyone) == (None, APP, False)
    assert event.revokes
    assert event.at == CREATED_MS / 1000


def test_fusionauth_revoke_for_a_user_stays_the_users() -> None:
    payload = fusionauth(
        "jwt.refresh-token.revoke", applicationId=APP, userId="u-1", user={"id": "u-1"}
    )
    event = parse_fusionauth(payload)
    assert (event.principal, event.application) == ("u-1", None)


@pytest.mark.parametrize("application", [None, "", 7])
def test_fusionauth_revoke_naming_neither_revokes_nothing(application: object) -> None:
    event = parse_fusionauth(fusionauth("jwt.refresh-token.revoke", applicationId=application))
    assert (event.application, event.revokes) == (None, False)


def test_only_the_refresh_token_revoke_is_application_wide() -> None:
    event = parse_fusionauth(fusionauth("user.deactivate", applicationId=APP))
    assert (event.application, event.revokes) == (None, False)
