"""Revocation through a real Kafka topic: FusionAuth-shaped events on the tansu broker.

Real components: the npm oidc-provider issues the tokens and answers introspection, tansu
carries the events, confluent-kafka reads them inside the sidecar. The sidecar runs
in-process (``httpx.ASGITransport`` with its lifespan), with the real clock: waiting for an
event to arrive polls with a bounded timeout; nothing waits for an expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings
from tests.support.asgi import asgi_client
from tests.support.idp import JWT_RESOURCE, Idp
from tests.support.tansu import Tansu

pytestmark = pytest.mark.integration

CALLER_ID, CALLER_SECRET = "broker", "fake-broker-secret"
TOPIC = "fusionauth-events"
READY_TIMEOUT_S = 20.0
REVOCATION_DEADLINE_S = 1.0


class Sidecar:
    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    async def active(self, token: str) -> bool:
        response = await self.client.post(
            "/oauth2/introspect",
            data={"token": token},
            auth=(CALLER_ID, CALLER_SECRET),
        )
        assert response.status_code == 200, response.text
        active: bool = response.json()["active"]
        return active

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            response = await self.client.get("/readyz")
            if response.status_code == 200:
                return
            assert time.monotonic() < deadline, response.json()
            await asyncio.sleep(0.05)

    async def wait_inactive(self, token: str) -> float:
        """Seconds until ``token`` is answered inactive (bounded by the deadline)."""
        started = time.monotonic()
        while await self.active(token):
            elapsed = time.monotonic() - started
            assert elapsed < REVOCATION_DEADLINE_S, "revocation not applied within 1 s"
            await asyncio.sleep(0.01)
        return time.monotonic() - started


@contextlib.asynccontextmanager
async def sidecar(env: Mapping[str, str]) -> AsyncIterator[Sidecar]:
    app = create_app(SidecarSettings.from_env(env))
    async with asgi_client(app) as client:
        yield Sidecar(app, client)


def sidecar_env(idp: Idp, tansu: Tansu) -> dict[str, str]:
    return {
        "OAUTHBEARER_CALLERS": f"{CALLER_ID}:{CALLER_SECRET}",
        "OAUTHBEARER_CACHE_TTL": "300",  # long: only the revocation can end a cached answer
        "OAUTHBEARER_NEGATIVE_CACHE_TTL": "0",
        "OAUTHBEARER_UPSTREAM_TIMEOUT": "2",
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_ISSUER": idp.issuer,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
        "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": tansu.bootstrap,
        "OAUTHBEARER_EVENTS_TOPIC": TOPIC,
        "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME": "3600",
    }


def fusionauth_event(kind: str, event_id: str, **fields: Any) -> bytes:
    event = {"type": kind, "id": event_id, "createInstant": int(time.time() * 1000), **fields}
    return json.dumps({"event": event}).encode()


def publish(tansu: Tansu, *records: tuple[str, bytes], timestamp_ms: int = 0) -> None:
    producer = Producer({"bootstrap.servers": tansu.bootstrap, "linger.ms": 0})
    for key, value in records:
        producer.produce(TOPIC, key=key.encode(), value=value, timestamp=timestamp_ms)
    assert producer.flush(10) == 0, "events not delivered to tansu"


async def test_fusionauth_events_on_kafka_revoke_cached_and_local_tokens(
    idp: Idp, tansu: Tansu
) -> None:
    # A record older than the replay window (its record timestamp is two hours back, more
    # than the one-hour max token lifetime) is never applied. Its createInstant is recent on
    # purpose, so only the window keeps it out. (tansu answers offsets_for_times with the
    # earliest offset, so here it is the source's timestamp filter that skips it; a Kafka
    # broker's time index would not even return it.)
    two_hours_ago_ms = int((time.time() - 7200) * 1000)
    bystander = idp.fetch_token("post")["access_token"]  # issued before that createInstant
    publish(
        tansu,
        ("kafka-post", fusionauth_event("user.delete", "e-old", user={"id": "kafka-post"})),
        timestamp_ms=two_hours_ago_ms,
    )
    # History the sidecar must replay and skip: an unknown type, a malformed record and an
    # event for someone else.
    publish(
        tansu,
        ("u-0", fusionauth_event("user.login.success", "e-0", user={"id": "kafka-opaque"})),
        ("u-0", b"{not json"),
        ("u-1", fusionauth_event("user.delete", "e-1", user={"id": "someone-else"})),
    )
    opaque = idp.fetch_token("opaque")["access_token"]
    jwt = idp.fetch_token("basic")["access_token"]
    env = sidecar_env(idp, tansu)

    async with sidecar(env) as s:
        await s.wait_ready()
        assert await s.active(opaque)  # via the upstream, now cached
        assert await s.active(opaque)
        assert await s.active(jwt)  # verified locally against the JWKS
        publish(
            tansu,
            (
                "kafka-opaque",
                fusionauth_event("user.deactivate", "e-2", user={"id": "kafka-opaque"}),
            ),
            (
                "kafka-basic",
                fusionauth_event(
                    "jwt.refresh-token.revoke", "e-3", userId="kafka-basic", applicationId="app"
                ),
            ),
        )
        opaque_delay = await s.wait_inactive(opaque)
        jwt_delay = await s.wait_inactive(jwt)
        metrics = (await s.client.get("/metrics")).text
    assert opaque_delay < REVOCATION_DEADLINE_S
    assert jwt_delay < REVOCATION_DEADLINE_S
    assert (
        'revocation_events_total{outcome="applied",source="kafka",type="user.deactivate"} 1.0'
        in metrics
    )
    assert 'revocation_events_total{outcome="malformed",source="kafka",type="malformed"} 1.0' in (
        metrics
    )
    assert 'revocation_denials_total{kind="watermark"}' in metrics
    # Applied: e-1 (user.delete, someone else); skipped: e-old.
    assert (
        'revocation_events_total{outcome="applied",source="kafka",type="user.delete"} 1.0'
        in metrics
    )
    assert "oauthbearer_sidecar_revocation_consumer_lag 0.0" in metrics

    # A restarted sidecar starts empty and replays the topic before it says ready.
    async with sidecar(env) as s:
        await s.wait_ready()
        assert not await s.active(opaque)
        assert not await s.active(jwt)
        # Someone not revoked (only by the record outside the window) is unaffected.
        assert await s.active(bystander)
        replication = s.app.state.sidecar.replication
        assert replication.source is not None
        assert replication.source.caught_up
