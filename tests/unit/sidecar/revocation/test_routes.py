"""The revocation routes and the introspector's use of the store, in-process, fake clock.

The upstream and JWKS are respx routes; the Keycloak bodies are the event-emitter's JSON.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest
import respx
from joserfc.jwk import ECKey, RSAKey

from oauthbearer._secret import Secret
from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.revocation.routes import EVENT_MAX_BODY_BYTES
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    NOW,
    UPSTREAM_URL,
    FakeClock,
    Harness,
    b64url,
    basic,
    jwks_of,
    make_settings,
    running,
    sign,
)
from tests.unit.sidecar.revocation.test_events import (
    CREATED_MS,
    KEYCLOAK_ADMIN_DELETE,
    KEYCLOAK_LOGOUT,
)

EVENT_ID, EVENT_SECRET = "keycloak", "fake-webhook-secret+/"
OPAQUE = "opaque-token-for-orders"
UPSTREAM_ACTIVE: dict[str, Any] = {
    "active": True,
    "sub": "orders-service",
    "client_id": "orders-service",
    "scope": "kafka",
    "exp": int(NOW) + 300,
    "iat": int(NOW) - 10,
    "jti": "opaque-jti-1",
}


@pytest.fixture
async def harness(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> AsyncIterator[Harness]:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    settings = make_settings(event_callers=Secret(f"{EVENT_ID}:{EVENT_SECRET}"))
    async with running(settings, router, clock) as h:
        yield h


async def post(
    h: Harness, path: str, body: Any, *, authorization: str | None = None, raw: bytes | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    headers["Authorization"] = (
        authorization if authorization is not None else basic(EVENT_ID, EVENT_SECRET)
    )
    content = raw if raw is not None else json.dumps(body).encode()
    return await h.client.post(path, content=content, headers=headers)


def store_size(h: Harness) -> int:
    return len(h.sidecar.revocations.store)


# --- authentication and malformed bodies ------------------------------------------------


@pytest.mark.parametrize("path", ["/events/keycloak", "/events/fusionauth", "/revocations"])
@pytest.mark.parametrize(
    "authorization",
    [
        "",  # none
        basic(EVENT_ID, "wrong"),
        basic("broker", "fake>>secret??~~"),  # the brokers' credentials are not enough
        "Bearer " + EVENT_SECRET,
    ],
)
async def test_wrong_or_missing_credentials_are_401(
    harness: Harness, path: str, authorization: str
) -> None:
    response = await post(harness, path, {"sub": "orders-service"}, authorization=authorization)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert response.json() == {"error": "invalid_client"}
    assert store_size(harness) == 0


async def test_a_refused_webhook_caller_is_counted_and_logged_once_a_minute(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # An emitter with a wrong secret retries for ever: the 401 was its only trace.
    caplog.set_level(logging.WARNING, logger="oauthbearer.sidecar.revocation")
    wrong = basic(EVENT_ID, "fake-wrong-secret")
    for _ in range(3):
        response = await post(harness, "/events/keycloak", {"sub": "x"}, authorization=wrong)
        assert response.status_code == 401
    metrics = harness.sidecar.metrics.render()
    line = b'revocation_events_total{outcome="unauthorized",source="keycloak",type="other"} 3.0'
    assert line in metrics
    refusals = [r for r in caplog.records if "was refused" in r.getMessage()]
    assert len(refusals) == 1  # a line a minute, the rest counted
    assert "keycloak request from 127.0.0.1" in refusals[0].getMessage()
    assert "fake-wrong-secret" not in caplog.text
    assert wrong.split()[1] not in caplog.text


async def test_urlsafe_basic_is_accepted(harness: Harness) -> None:
    auth = basic(EVENT_ID, EVENT_SECRET, urlsafe=True)
    response = await post(harness, "/revocations", {"sub": "x"}, authorization=auth)
    assert response.status_code == 200
    # Never cached by anything between us and the caller, as the introspection answers.
    assert (response.headers["cache-control"], response.headers["pragma"]) == (
        "no-store",
        "no-cache",
    )


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/events/keycloak", b"{not json"),
        ("/events/keycloak", b'{"userId": "u"}'),
        ("/events/keycloak", json.dumps([KEYCLOAK_LOGOUT, {"nope": 1}]).encode()),
        ("/events/fusionauth", b'{"event": "x"}'),
        ("/events/fusionauth", b"\xff"),
        ("/revocations", b"[]"),
        ("/revocations", b'{"sub": ""}'),
        ("/revocations", b'{"sub": "a", "jti": "b"}'),
        ("/revocations", b'{"sub": "a", "exp": 5}'),
        ("/revocations", b'{"jti": "a", "exp": "soon"}'),
        ("/revocations", b'{"user": "a"}'),
        # JSON nested too deep for the parser (RecursionError), numbers beyond any float,
        # NaN: each was a 500, or an "applied" revocation that did nothing.
        ("/events/keycloak", b"[" * 5000),
        ("/events/fusionauth", b"[" * 5000),
        ("/revocations", b"[" * 5000),
        ("/revocations", b'{"jti": "a", "exp": ' + b"9" * 400 + b"}"),
        ("/revocations", b'{"jti": "a", "exp": NaN}'),
        # Ids no record can carry: a lone surrogate (a 500 once a publisher encoded it,
        # and for a token the cache key), or over 1,024 characters (Kafka refused the
        # record: 503 for ever; and 100,000 of them held gigabytes).
        ("/events/keycloak", b'{"type": "LOGOUT", "userId": "\\ud800", "time": 1}'),
        ("/events/fusionauth", b'{"event": {"type": "user.delete", "user": {"id": "\\ud800"}}}'),
        ("/revocations", b'{"sub": "\\ud800"}'),
        ("/revocations", b'{"jti": "\\ud800"}'),
        ("/revocations", b'{"token": "abc\\ud800"}'),
        ("/events/keycloak", b'{"type": "LOGOUT", "userId": "' + b"u" * 1025 + b'"}'),
        ("/revocations", b'{"sub": "' + b"u" * 1025 + b'"}'),
        # A userId that is no id: read as "no user", it revoked the whole application.
        (
            "/events/fusionauth",
            b'{"event": {"type": "jwt.refresh-token.revoke", "userId": 12345,'
            b' "applicationId": "app-1"}}',
        ),
        (
            "/events/fusionauth",
            b'{"event": {"type": "jwt.refresh-token.revoke", "userId": "",'
            b' "applicationId": "app-1"}}',
        ),
    ],
)
async def test_malformed_is_400_and_changes_nothing(
    harness: Harness, path: str, raw: bytes
) -> None:
    response = await post(harness, path, None, raw=raw)
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}
    assert response.headers["pragma"] == "no-cache"
    assert store_size(harness) == 0
    assert harness.sidecar.revocations.store.seen_ids == 0


async def test_events_may_be_large_and_a_body_over_their_limit_is_413(harness: Harness) -> None:
    # Far over the introspection limit: a user representation with its attributes.
    attributes = {f"attribute-{i}": "x" * 200 for i in range(400)}
    large = {"type": "user.deactivate", "id": "e-big", "user": {"id": "u-big", "data": attributes}}
    assert (await post(harness, "/events/fusionauth", {"event": large})).status_code == 200
    assert harness.sidecar.revocations.store.watermark("u-big") is not None
    response = await post(harness, "/revocations", {"sub": "x" * (EVENT_MAX_BODY_BYTES + 1)})
    assert response.status_code == 413


async def test_routes_do_not_exist_without_event_callers(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    async with running(make_settings(), router, clock) as h:
        response = await post(h, "/revocations", {"sub": "x"})
        assert response.status_code == 404
        doc = (await h.client.get("/openapi.json")).json()
        assert "/revocations" not in doc["paths"]


# --- applying ---------------------------------------------------------------------------


async def test_keycloak_emitter_json_with_a_duplicate_delivery(harness: Harness) -> None:
    first = await post(harness, "/events/keycloak", KEYCLOAK_LOGOUT)
    assert first.status_code == 200
    assert first.json() == {"outcomes": ["applied"]}
    again = await post(harness, "/events/keycloak", KEYCLOAK_LOGOUT)  # the emitter retries
    assert again.json() == {"outcomes": ["duplicate"]}
    batch = await post(harness, "/events/keycloak", [KEYCLOAK_ADMIN_DELETE, {"type": "LOGIN"}])
    assert batch.json() == {"outcomes": ["ignored", "ignored"]}  # same user, no newer T
    store = harness.sidecar.revocations.store
    assert store.watermark(KEYCLOAK_LOGOUT["userId"]) == CREATED_MS / 1000
    metrics = (await harness.client.get("/metrics")).text
    assert (
        'oauthbearer_sidecar_revocation_events_total{outcome="applied",source="keycloak",'
        'type="LOGOUT"} 1.0'
    ) in metrics
    assert 'outcome="duplicate",source="keycloak",type="LOGOUT"} 1.0' in metrics
    assert 'oauthbearer_sidecar_revocations_applied_total{kind="principal"} 1.0' in metrics


async def test_fusionauth_webhook(harness: Harness) -> None:
    body = {"event": {"type": "user.deactivate", "id": "e-1", "user": {"id": "orders-service"}}}
    response = await post(harness, "/events/fusionauth", body)
    assert response.json() == {"outcomes": ["applied"]}
    assert harness.sidecar.revocations.store.watermark("orders-service") == NOW


async def test_cached_opaque_answer_turns_inactive_after_revocation(harness: Harness) -> None:
    first = (await harness.introspect(OPAQUE)).json()
    assert first["active"] is True
    assert harness.router.calls.call_count == 2  # JWKS at start-up, then the upstream
    assert (await post(harness, "/revocations", {"sub": "orders-service"})).status_code == 200
    assert (await harness.introspect(OPAQUE)).json() == {"active": False}
    metrics = (await harness.client.get("/metrics")).text
    assert 'oauthbearer_sidecar_revocation_denials_total{kind="watermark"} 1.0' in metrics


async def test_a_token_issued_after_the_revocation_is_active(
    harness: Harness, clock: FakeClock
) -> None:
    await post(harness, "/revocations", {"sub": "orders-service"})
    clock.advance(5)
    newer = {**UPSTREAM_ACTIVE, "iat": int(clock.now)}
    harness.router.post(UPSTREAM_URL).respond(200, json=newer)
    assert (await harness.introspect("a-new-opaque-token")).json()["active"] is True


async def test_cached_answer_denied_on_hit_without_eviction(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    """With another principal claim the sub index cannot evict: the hit-time check does."""
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).respond(200, json={**UPSTREAM_ACTIVE, "user_id": "u-7"})
    settings = make_settings(
        event_callers=Secret(f"{EVENT_ID}:{EVENT_SECRET}"), revocation_principal_claim="user_id"
    )
    async with running(settings, router, clock) as h:
        assert (await h.introspect(OPAQUE)).json()["active"] is True
        await post(h, "/revocations", {"sub": "u-7"})
        assert len(h.sidecar.cache) == 1  # still cached ...
        assert (await h.introspect(OPAQUE)).json() == {"active": False}  # ... but refused
        assert router.calls.call_count == 2  # and no new upstream call


async def test_locally_verified_jwt_turns_inactive_after_revocation(
    harness: Harness, rsa_key: RSAKey
) -> None:
    token = sign(rsa_key, {"sub": "payments", "jti": "jwt-jti-1"})
    assert (await harness.introspect(token)).json()["active"] is True
    await post(harness, "/events/keycloak", {**KEYCLOAK_LOGOUT, "userId": "payments"})
    # The Keycloak event's own time is NOW + 0.123 s: the JWT's iat (NOW) is before it.
    assert (await harness.introspect(token)).json() == {"active": False}


async def test_a_token_revoked_with_whitespace_around_it_is_the_token_introspected(
    harness: Harness, rsa_key: RSAKey
) -> None:
    # Introspection drops ASCII whitespace around the token; the revocation hashed
    # "abc\n" as it stood, and could never match the token "abc".
    token = sign(rsa_key, {"sub": "c", "jti": "jwt-jti-ws"})
    assert (await harness.introspect(token)).json()["active"] is True
    response = await post(harness, "/revocations", {"token": f" {token}\n"})
    assert response.json() == {"outcomes": ["applied"]}
    assert (await harness.introspect(token)).json() == {"active": False}
    shapeless = await post(harness, "/revocations", {"token": "not a token"})
    assert shapeless.status_code == 400


# The order of the P-256 group: s and n - s are both valid ECDSA signatures of one input.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.mark.parametrize(
    "jti", [{"jti": "es-jti-1"}, {"jti": None}], ids=["with-jti", "without-jti"]
)
async def test_an_ecdsa_token_revoked_cannot_come_back_spelt_otherwise(
    router: respx.MockRouter, clock: FakeClock, ec_key: ECKey, jti: dict[str, str | None]
) -> None:
    # Denied by the hash of its text, a revoked ES256 token re-spelt with n - s (which
    # verifies just the same) was let in again. Its jti has one spelling only, but a
    # token without one had no other cover: the twin's hash is denied with it.
    token = sign(ec_key, {"sub": "mallory", **jti}, alg="ES256")
    header, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    twin_signature = r + (P256_ORDER - s).to_bytes(32, "big")
    twin = f"{header}.{payload}.{b64url(twin_signature)}"
    assert twin != token
    router.get(JWKS_URL).respond(200, json=jwks_of(ec_key))
    settings = make_settings(event_callers=Secret(f"{EVENT_ID}:{EVENT_SECRET}"))
    async with running(settings, router, clock) as h:
        assert (await h.introspect(twin)).json()["active"] is True  # it does verify
        assert (await post(h, "/revocations", {"token": token})).json() == {"outcomes": ["applied"]}
        assert (await h.introspect(token)).json() == {"active": False}
        assert (await h.introspect(twin)).json() == {"active": False}


async def test_revocation_by_jti_and_by_token(harness: Harness, rsa_key: RSAKey) -> None:
    by_jti = sign(rsa_key, {"sub": "a", "jti": "jwt-jti-2"})
    by_token = sign(rsa_key, {"sub": "b", "jti": "jwt-jti-3"})
    other = sign(rsa_key, {"sub": "a", "jti": "jwt-jti-4"})
    for token in (by_jti, by_token, other):
        assert (await harness.introspect(token)).json()["active"] is True
    assert (await post(harness, "/revocations", {"jti": "jwt-jti-2"})).json() == {
        "outcomes": ["applied"]
    }
    assert (await post(harness, "/revocations", {"token": by_token})).status_code == 200
    assert (await harness.introspect(by_jti)).json() == {"active": False}
    assert (await harness.introspect(by_token)).json() == {"active": False}
    assert (await harness.introspect(other)).json()["active"] is True
    # The token revocation is kept until the JWT's own exp (+ skew), not longer; a JWT
    # revoked as a token has its jti denied too (jwt-jti-2 by jti, jwt-jti-3 with its token).
    store = harness.sidecar.revocations.store
    assert len(store) == 3
    metrics = (await harness.client.get("/metrics")).text
    assert 'revocation_events_total{outcome="applied",source="api",type="token"} 1.0' in metrics
    assert 'revocation_denials_total{kind="jti"} 1.0' in metrics
    assert 'revocation_denials_total{kind="token"} 1.0' in metrics


async def test_revocation_while_the_upstream_call_is_in_flight(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    """A revocation applied while a decision awaits the upstream is seen before caching."""
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    settings = make_settings(event_callers=Secret(f"{EVENT_ID}:{EVENT_SECRET}"))
    async with running(settings, router, clock) as h:

        async def upstream(_request: httpx.Request) -> httpx.Response:
            h.sidecar.revocations.revoke_principal("orders-service")
            return httpx.Response(200, json=UPSTREAM_ACTIVE)

        router.post(UPSTREAM_URL).mock(side_effect=upstream)
        assert (await h.introspect(OPAQUE)).json() == {"active": False}
        assert (await h.introspect(OPAQUE)).json() == {"active": False}


async def test_secrets_never_logged(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await post(harness, "/revocations", {"sub": "x"}, authorization=basic(EVENT_ID, "wrong-one"))
    await post(harness, "/revocations", {"token": OPAQUE})
    await harness.introspect(OPAQUE)
    assert EVENT_SECRET not in caplog.text
    assert "wrong-one" not in caplog.text
    assert OPAQUE not in caplog.text
    assert EVENT_SECRET not in repr(harness.sidecar.settings)


def test_openapi_documents_the_routes_when_configured() -> None:
    app = create_app(make_settings(event_callers=Secret("a:b")))
    paths = {r.path for r in app.routes}  # type: ignore[attr-defined]
    assert {"/events/keycloak", "/events/fusionauth", "/revocations"} <= paths


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"sub": "a"}, True),
        ({"jti": "b", "exp": 5}, True),
        ({"token": "abc", "exp": 5}, True),
        ({"all": True}, True),
        ({"sub": "a", "jti": "b"}, False),
        ({"sub": "a", "exp": 5}, False),
        ({"all": True, "exp": 5}, False),
        ({"token": "abc", "all": True}, False),
        ({"all": False}, False),
        ({}, False),
    ],
)
async def test_the_documented_revocation_schema_is_what_the_route_accepts(
    harness: Harness, body: dict[str, object], valid: bool
) -> None:
    doc = (await harness.client.get("/openapi.json")).json()
    schema = {**doc["components"]["schemas"]["Revocation"], "components": doc["components"]}
    assert jsonschema.Draft202012Validator(schema).is_valid(body) is valid
    response = await post(harness, "/revocations", body)
    assert (response.status_code == 200) is valid


async def test_with_only_the_emitter_secret_only_its_route_exists(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    # /events/fusionauth and /revocations take event callers only: with none configured
    # they refused everyone, and the document advertised them all the same.
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    settings = make_settings(keycloak_emitter_secret=Secret("fake-emitter-secret"))
    async with running(settings, router, clock) as h:
        assert (await post(h, "/revocations", {"sub": "x"})).status_code == 404
        assert (await post(h, "/events/fusionauth", {"event": {}})).status_code == 404
        doc = (await h.client.get("/openapi.json")).json()
    assert [p for p in doc["paths"] if p.startswith(("/events", "/revocations"))] == [
        "/events/keycloak"
    ]
    # The brokers authenticate with Basic here: no anonymous access is advertised.
    assert doc["paths"]["/oauth2/introspect"]["post"]["security"] == [{"basic": []}]


async def test_an_admin_sign_out_of_one_session_revokes_its_tokens_only(
    harness: Harness, rsa_key: RSAKey
) -> None:
    signed_out = sign(rsa_key, {"sub": "payments", "sid": "session-a", "jti": "sa"})
    other = sign(rsa_key, {"sub": "payments", "sid": "session-b", "jti": "sb"})
    for token in (signed_out, other):
        assert (await harness.introspect(token)).json()["active"] is True
    sign_out = {
        "uid": 4242,
        "time": int(NOW * 1000),
        "realmId": "kafka",
        "operationType": "DELETE",
        "resourceType": "USER_SESSION",
        "resourcePath": "sessions/session-a",
    }
    response = await post(harness, "/events/keycloak", sign_out)
    assert response.status_code == 200
    assert (await harness.introspect(signed_out)).json() == {"active": False}
    assert (await harness.introspect(other)).json()["active"] is True


async def test_a_revocation_acknowledged_during_the_upstream_call_covers_an_answer_without_iat(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    """The upstream took a second and its answer carried no iat. The iat filled in was the
    answer's arrival, a second after the revocation, so the revoked token was answered
    and cached active; it is now the moment the question was put."""
    gate = asyncio.Event()

    async def slow_upstream(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        clock.advance(1.0)  # the answer arrives a second after the question
        answer = {k: v for k, v in UPSTREAM_ACTIVE.items() if k != "iat"}
        return httpx.Response(200, json=answer)

    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).mock(side_effect=slow_upstream)
    settings = make_settings(event_callers=Secret(f"{EVENT_ID}:{EVENT_SECRET}"))
    async with running(settings, router, clock) as h:
        in_flight = asyncio.create_task(h.introspect(OPAQUE))
        await asyncio.sleep(0.01)  # the upstream call is under way
        revoked = await post(h, "/revocations", {"sub": "orders-service"})
        assert revoked.json() == {"outcomes": ["applied"]}
        gate.set()
        assert (await in_flight).json() == {"active": False}
        assert (await h.introspect(OPAQUE)).json() == {"active": False}


async def test_an_admin_update_whose_resource_path_is_no_string_revokes_nobody(
    harness: Harness,
) -> None:
    # Keycloak's resourcePath is a string; a list was read as "no path", a realm update,
    # and its notBefore revoked every token of the realm.
    now_ms = int(NOW * 1000)
    event = {
        "operationType": "UPDATE",
        "resourcePath": ["users", "u1"],
        "representation": json.dumps({"enabled": False, "notBefore": now_ms // 1000}),
        "time": now_ms,
    }
    response = await post(harness, "/events/keycloak", event)
    assert response.status_code == 200
    assert store_size(harness) == 0
    assert harness.sidecar.revocations.store.wide.everyone is None


@pytest.mark.parametrize("when", [0, -5, "seconds"])
async def test_an_event_time_of_zero_or_in_seconds_still_revokes(
    harness: Harness, when: object
) -> None:
    # Read as milliseconds, 0, -5 and seconds all fell before the replay window: the
    # revocation was dropped as too old, silently, and its id spent.
    time = int(NOW) if when == "seconds" else when
    event = {"type": "LOGOUT", "userId": "u-time", "time": time, "uid": 77}
    response = await post(harness, "/events/keycloak", event)
    assert response.status_code == 200
    assert response.json()["outcomes"] == ["applied"]
    assert harness.sidecar.revocations.store.denies_principal("u-time", NOW - 60)


async def test_a_uid_of_zero_is_no_id(harness: Harness) -> None:
    # As in the emitter's FlatBuffers: taken as an id, the first uid-0 event made every
    # later one a duplicate.
    for user in ("u-a", "u-b"):
        event = {"type": "LOGOUT", "userId": user, "uid": 0, "time": int(NOW * 1000)}
        response = await post(harness, "/events/keycloak", event)
        assert response.json()["outcomes"] == ["applied"]
