"""Realm- and application-wide revocations through the routes and the introspector.

In-process, fake clock, respx upstream and JWKS. A cached active answer is inactive right
after the revocation, a JWT verified locally with ``iat ≤ T`` is inactive, a token issued
after ``T`` is active; the revocation is shared with the other replicas.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import respx
from joserfc.jwk import RSAKey

from oauthbearer._secret import Secret
from oauthbearer.sidecar.openapi import EVENT_PATHS, openapi_document
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    NOW,
    UPSTREAM_URL,
    FakeClock,
    Harness,
    jwks_of,
    make_settings,
    running,
    sign,
)
from tests.unit.sidecar.revocation.test_routes import (
    EVENT_ID,
    EVENT_SECRET,
    OPAQUE,
    UPSTREAM_ACTIVE,
    post,
)
from tests.unit.sidecar.revocation.test_routes_shared import basic

APP = "85a03867-dccf-4882-adde-1a79aeec50df"
TIME_MS = int(NOW * 1000)


@pytest.fixture
async def harness(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> AsyncIterator[Harness]:
    """test_routes.py's: an upstream that says active, the webhooks' credentials set."""
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    settings = make_settings(event_callers=Secret(f"{EVENT_ID}:{EVENT_SECRET}"))
    async with running(settings, router, clock) as h:
        yield h


def keycloak_realm_event(uid: int, operation: str, path: str | None, rep: Any = None) -> Any:
    return {
        "uid": uid,
        "time": TIME_MS,
        "realmId": "kafka",
        "authDetails": {
            "realmId": "master",
            "clientId": "security-admin-console",
            "userId": "admin-id",
            "ipAddress": "10.0.0.2",
        },
        "resourceType": "REALM",
        "operationType": operation,
        "resourcePath": path,
        "representation": rep,
        "error": None,
    }


async def metrics(h: Harness) -> str:
    return (await h.client.get("/metrics")).text


# --- POST /revocations {"all": true} -------------------------------------------------------


async def test_a_cached_active_answer_is_inactive_right_after_all(
    harness: Harness, clock: FakeClock
) -> None:
    assert (await harness.introspect(OPAQUE)).json()["active"] is True
    assert len(harness.sidecar.cache) == 1
    clock.advance(1)
    response = await post(harness, "/revocations", {"all": True})
    assert response.status_code == 200
    assert response.json() == {"outcomes": ["applied"]}
    assert harness.sidecar.cache.active_entries == 0  # dropped, not left to its TTL
    # Decided afresh: the upstream still says active, its iat (NOW - 10) is before T.
    assert (await harness.introspect(OPAQUE)).json() == {"active": False}
    text = await metrics(harness)
    assert 'revocations_applied_total{kind="everyone"} 1.0' in text
    assert 'revocation_denials_total{kind="everyone"} 1.0' in text
    assert 'revocation_events_total{outcome="applied",source="api",type="everyone"} 1.0' in text


async def test_a_locally_verified_jwt_issued_before_is_inactive_and_one_after_active(
    harness: Harness, clock: FakeClock, rsa_key: RSAKey
) -> None:
    before = sign(rsa_key, {"sub": "payments", "jti": "j-before"})  # iat NOW
    cached = sign(rsa_key, {"sub": "orders", "jti": "j-cached"})
    assert (await harness.introspect(cached)).json()["active"] is True
    clock.advance(1)
    assert (await post(harness, "/revocations", {"all": True})).status_code == 200
    assert (await harness.introspect(before)).json() == {"active": False}  # never cached
    assert (await harness.introspect(cached)).json() == {"active": False}
    clock.advance(5)
    after = sign(rsa_key, {"sub": "payments", "jti": "j-after"}, now=clock.now)
    assert (await harness.introspect(after)).json()["active"] is True
    assert (await harness.introspect(after)).json()["active"] is True  # and cached
    newer = {**UPSTREAM_ACTIVE, "iat": int(clock.now)}
    harness.router.post(UPSTREAM_URL).respond(200, json=newer)
    assert (await harness.introspect("an-opaque-token-issued-later")).json()["active"] is True


@pytest.mark.parametrize(
    "raw",
    [
        b'{"all": false}',
        b'{"all": "true"}',
        b'{"all": 1}',
        b'{"all": null}',
        b'{"all": true, "sub": "a"}',
        b'{"all": true, "exp": 5}',
        b'{"all": true, "at": 5}',
    ],
)
async def test_a_malformed_all_is_400_and_changes_nothing(harness: Harness, raw: bytes) -> None:
    assert (await harness.introspect(OPAQUE)).json()["active"] is True
    response = await post(harness, "/revocations", None, raw=raw)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}
    assert len(harness.sidecar.revocations.store) == 0
    assert harness.sidecar.cache.active_entries == 1


def test_the_openapi_document_describes_all() -> None:
    doc = openapi_document(events=EVENT_PATHS)
    schema = doc["components"]["schemas"]["Revocation"]
    (everyone,) = [kind for kind in schema["oneOf"] if kind["required"] == ["all"]]
    assert everyone["properties"] == {"all": {"const": True}}
    assert "all" in schema["description"]


# --- the identity providers' events --------------------------------------------------------


async def test_keycloak_sign_out_all_refuses_every_earlier_token(
    harness: Harness, clock: FakeClock, rsa_key: RSAKey
) -> None:
    token = sign(rsa_key, {"sub": "5f0c1f7e-user", "iat": int(NOW) - 60})
    assert (await harness.introspect(token)).json()["active"] is True
    assert (await harness.introspect(OPAQUE)).json()["active"] is True
    clock.advance(1)
    event = keycloak_realm_event(42, "ACTION", "logout-all", '{"successRequests":[]}')
    response = await post(harness, "/events/keycloak", event)
    assert response.json() == {"outcomes": ["applied"]}
    assert (await harness.introspect(token)).json() == {"active": False}
    assert (await harness.introspect(OPAQUE)).json() == {"active": False}


async def test_keycloak_set_to_now_refuses_tokens_issued_until_not_before(
    harness: Harness, clock: FakeClock, rsa_key: RSAKey
) -> None:
    old = sign(rsa_key, {"sub": "u-old", "iat": int(NOW) - 60, "jti": "old"})
    fresh = sign(rsa_key, {"sub": "u-fresh", "iat": int(NOW) - 10, "jti": "fresh"})
    for token in (old, fresh):
        assert (await harness.introspect(token)).json()["active"] is True
    not_before = int(NOW) - 30
    rep = json.dumps({"realm": "kafka", "notBefore": not_before})
    response = await post(
        harness, "/events/keycloak", keycloak_realm_event(43, "UPDATE", None, rep)
    )
    assert response.json() == {"outcomes": ["applied"]}
    assert (await harness.introspect(old)).json() == {"active": False}
    assert (await harness.introspect(fresh)).json()["active"] is True  # iat after notBefore
    # "Clear" (notBefore 0) and other realm saves revoke nothing, and are no 400 either.
    cleared = keycloak_realm_event(44, "UPDATE", None, json.dumps({"notBefore": 0}))
    assert (await post(harness, "/events/keycloak", cleared)).json() == {"outcomes": ["ignored"]}


async def test_fusionauth_application_wide_revoke(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    settings = make_settings(
        event_callers=Secret("fusionauth:fake-webhook-secret"), audiences=("urn:kafka", APP)
    )
    revoked = sign(rsa_key, {"sub": "u-1", "aud": APP, "applicationId": APP, "jti": "a"})
    other = sign(rsa_key, {"sub": "u-1", "jti": "b"})  # aud urn:kafka: another application
    body = {
        "event": {
            "type": "jwt.refresh-token.revoke",
            "id": "e-1",
            "createInstant": TIME_MS + 1000,
            "tenantId": "t-1",
            "applicationId": APP,
            "applicationTimeToLiveInSeconds": {APP: 3600},
        }
    }
    async with running(settings, router, clock) as h:
        for token in (revoked, other):
            assert (await h.introspect(token)).json()["active"] is True
        clock.advance(1)
        auth = basic("fusionauth", "fake-webhook-secret")
        response = await post(h, "/events/fusionauth", body, authorization=auth)
        assert response.json() == {"outcomes": ["applied"]}
        assert (await h.introspect(revoked)).json() == {"active": False}
        assert (await h.introspect(other)).json()["active"] is True
        assert 'revocation_denials_total{kind="application"} 1.0' in await metrics(h)
