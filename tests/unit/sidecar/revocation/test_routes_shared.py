"""The webhook routes as the Keycloak emitter speaks, and what they share with replicas.

The emitter's credentials (any user name, one shared secret), its FLATBUFFER bodies, and
the rule that a webhook gets 200 only once its records are acknowledged (503 otherwise,
so the emitter keeps the event and retries). The publisher is an in-memory stand-in
here; tests/integration/test_replicas.py runs the real one against a broker.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from oauthbearer._secret import Secret
from oauthbearer.sidecar.cache import ResultCache
from oauthbearer.sidecar.callers import CallerAuthenticator, SharedSecretAuthenticator
from oauthbearer.sidecar.revocation.publisher import PublishFailed
from oauthbearer.sidecar.revocation.records import RevocationRecord
from oauthbearer.sidecar.revocation.routes import EventRoutes
from oauthbearer.sidecar.revocation.service import Revocations
from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.verdict import token_key
from tests.support.clock import NOW, FakeClock
from tests.support.keycloak_flatbuffers import (
    DELETE,
    LOGOUT,
    RESOURCE_USER,
    AdminEvent,
    UserEvent,
    admin_event_table,
    http_body,
    user_event_table,
)

EMITTER_SECRET = "fake-emitter-secret"
CALLER = ("fusionauth", "fake-webhook-secret")
USER = "5f0c1f7e-6b1c-4f2a-9d0e-3b8a7c6d5e4f"
TIME_MS = int(NOW * 1000) - 500


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class FakePublisher:
    """Records what it was given; fails while ``down`` is set, as Kafka out of reach."""

    def __init__(self) -> None:
        self.published: list[RevocationRecord] = []
        self.down = False

    async def publish(self, records: Sequence[RevocationRecord]) -> None:
        if self.down:
            raise PublishFailed("_MSG_TIMED_OUT")
        self.published.extend(records)


class Routes:
    def __init__(self, client: httpx.AsyncClient, revocations: Revocations) -> None:
        self.client = client
        self.revocations = revocations

    async def post(self, path: str, body: Any, authorization: str) -> httpx.Response:
        return await self.client.post(
            path,
            content=json.dumps(body).encode(),
            headers={"Authorization": authorization, "Content-Type": "application/json"},
        )


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
async def routes(publisher: FakePublisher) -> AsyncIterator[Routes]:
    clock = FakeClock()
    cache = ResultCache(
        ttl=60, max_entries=100, negative_ttl=0, negative_max_entries=1, clock=clock
    )
    revocations = Revocations(RevocationStore(max_lifetime=3600, clock=clock), cache)
    event_routes = EventRoutes(
        revocations,
        CallerAuthenticator(Secret(":".join(CALLER)), variable="OAUTHBEARER_EVENT_CALLERS"),
        emitter=SharedSecretAuthenticator(Secret(EMITTER_SECRET)),
        publisher=publisher,
    )
    app = Starlette(routes=event_routes.routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
        yield Routes(client, revocations)


def logout_json(uid: int = 1843012345678901234) -> dict[str, Any]:
    return {"uid": uid, "time": TIME_MS, "type": "LOGOUT", "userId": USER, "realmId": "kafka"}


# --- the emitter's credentials -----------------------------------------------------------


@pytest.mark.parametrize("host", ["keycloak-0", "keycloak-7", "kc.example.internal"])
async def test_the_emitter_authenticates_with_its_host_name(routes: Routes, host: str) -> None:
    response = await routes.post("/events/keycloak", logout_json(), basic(host, EMITTER_SECRET))
    assert response.status_code == 200
    assert response.json() == {"outcomes": ["applied"]}


@pytest.mark.parametrize(
    "authorization",
    [
        basic("keycloak-1", "wrong"),
        basic("", EMITTER_SECRET),  # a user name is always sent
        "Basic " + base64.b64encode(EMITTER_SECRET.encode()).decode(),  # no colon
        "Bearer " + EMITTER_SECRET,
        "",
    ],
)
async def test_anything_else_is_401(routes: Routes, authorization: str) -> None:
    response = await routes.post("/events/keycloak", logout_json(), authorization)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert len(routes.revocations.store) == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/revocations", {"sub": USER}),
        ("/events/fusionauth", {"event": {"type": "user.delete", "user": {"id": USER}}}),
    ],
)
async def test_the_emitter_secret_opens_only_the_keycloak_route(
    routes: Routes, path: str, body: dict[str, Any]
) -> None:
    response = await routes.post(path, body, basic("keycloak-0", EMITTER_SECRET))
    assert response.status_code == 401
    allowed = await routes.post(path, body, basic(*CALLER))
    assert allowed.status_code == 200


# --- FLATBUFFER bodies ---------------------------------------------------------------


async def test_a_flatbuffer_logout_revokes_and_dedupes_with_its_json_twin(
    routes: Routes, publisher: FakePublisher
) -> None:
    table = user_event_table(UserEvent(uid=99, time_ms=TIME_MS, type=LOGOUT, user_id=USER))
    auth = basic("keycloak-0", EMITTER_SECRET)
    first = await routes.post("/events/keycloak", http_body(table, "Event"), auth)
    assert first.status_code == 200
    assert first.json() == {"outcomes": ["applied"]}
    assert routes.revocations.store.watermark(USER) == TIME_MS / 1000
    # The same event (same uid) in the JSON format is a duplicate, not a second event.
    twin = await routes.post("/events/keycloak", logout_json(uid=99), auth)
    assert twin.json() == {"outcomes": ["duplicate"]}
    assert [r.event_id for r in publisher.published] == ["keycloak:99", "keycloak:99"]


async def test_a_flatbuffer_admin_delete_revokes(routes: Routes) -> None:
    event = AdminEvent(5, TIME_MS, DELETE, RESOURCE_USER["http"], f"users/{USER}")
    body = http_body(admin_event_table(event, "http"), "AdminEvent")
    response = await routes.post("/events/keycloak", body, basic("keycloak-1", EMITTER_SECRET))
    assert response.json() == {"outcomes": ["applied"]}
    assert routes.revocations.store.watermark(USER) == TIME_MS / 1000


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Event", "obj": "!!not base64!!"},
        {"type": "Event", "obj": base64.b64encode(b"\x08\x00\x00\x00short").decode()},
        {"type": "AdminEvent", "obj": ""},
        {"type": "Event", "obj": base64.b64encode(b"\xff" * 64).decode()},
    ],
)
async def test_a_broken_flatbuffer_body_is_400_and_changes_nothing(
    routes: Routes, publisher: FakePublisher, body: dict[str, Any]
) -> None:
    response = await routes.post("/events/keycloak", body, basic("keycloak-0", EMITTER_SECRET))
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}
    assert len(routes.revocations.store) == 0
    assert publisher.published == []


# --- sharing with the replicas -------------------------------------------------------


async def test_records_carry_no_token(routes: Routes, publisher: FakePublisher) -> None:
    token = "opaque-token-that-must-never-travel"
    response = await routes.post("/revocations", {"token": token}, basic(*CALLER))
    assert response.status_code == 200
    (record,) = publisher.published
    assert (record.kind, record.value, record.source) == ("token", token_key(token).hex(), "api")
    assert record.event_id.startswith("api:")
    assert token not in record.encode().decode()


async def test_only_revoking_events_are_shared(routes: Routes, publisher: FakePublisher) -> None:
    login = {**logout_json(uid=5), "type": "LOGIN"}
    response = await routes.post(
        "/events/keycloak", [login, logout_json(uid=6)], basic("kc-0", EMITTER_SECRET)
    )
    assert response.json() == {"outcomes": ["ignored", "applied"]}
    assert [(r.kind, r.value, r.event_id) for r in publisher.published] == [
        ("principal", USER, "keycloak:6")
    ]


async def test_kafka_out_of_reach_is_503_and_the_retry_lands(
    routes: Routes, publisher: FakePublisher
) -> None:
    auth = basic("keycloak-3", EMITTER_SECRET)
    publisher.down = True
    refused = await routes.post("/events/keycloak", logout_json(), auth)
    # Anything but 200 makes the emitter keep the event in its buffer and send it again.
    assert refused.status_code == 503
    assert refused.json() == {"error": "temporarily_unavailable"}
    assert refused.headers["retry-after"] == "5"
    # This replica refuses the user's tokens already: early is the safe direction.
    assert routes.revocations.store.watermark(USER) == TIME_MS / 1000

    publisher.down = False
    retried = await routes.post("/events/keycloak", logout_json(), auth)
    assert retried.status_code == 200
    assert retried.json() == {"outcomes": ["duplicate"]}  # here; but now on the topic too
    assert [r.event_id for r in publisher.published] == ["keycloak:1843012345678901234"]


async def test_a_direct_revocation_is_503_when_unshared(
    routes: Routes, publisher: FakePublisher
) -> None:
    publisher.down = True
    response = await routes.post("/revocations", {"jti": "j-1", "exp": NOW + 60}, basic(*CALLER))
    assert response.status_code == 503
    assert routes.revocations.store.denies_jti("j-1")


async def test_a_realm_wide_sign_out_is_shared(routes: Routes, publisher: FakePublisher) -> None:
    """Keycloak's "Sign out all active sessions", then an operator's {"all": true}."""
    sign_out_all = {
        "uid": 45,
        "time": TIME_MS,
        "realmId": "kafka",
        "resourceType": "REALM",
        "operationType": "ACTION",
        "resourcePath": "logout-all",
    }
    response = await routes.post("/events/keycloak", sign_out_all, basic("kc-0", EMITTER_SECRET))
    assert response.json() == {"outcomes": ["applied"]}
    response = await routes.post("/revocations", {"all": True}, basic(*CALLER))
    assert response.json() == {"outcomes": ["applied"]}  # now is after the event's time
    assert [(r.kind, r.value, r.source, r.at) for r in publisher.published] == [
        ("everyone", "*", "keycloak", TIME_MS / 1000),
        ("everyone", "*", "api", NOW),
    ]
    assert publisher.published[0].event_id == "keycloak:45"
    assert routes.revocations.store.wide.everyone == NOW
