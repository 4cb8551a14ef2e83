"""A realm-wide revocation through the revocations topic on the tansu broker.

Real components: tansu, and confluent-kafka's idempotent producer and consumer inside
in-process sidecars (``httpx.ASGITransport`` with their lifespans, the real clock). The
JWTs are signed here and the JWKS served by a mock transport: no identity provider is
needed. ``{"all": true}`` posted to replica A is refused by replica B, and by a replica
started afterwards (it replays the topic before it says ready); a token issued after it is
accepted by both.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from joserfc.jwk import RSAKey

from oauthbearer._secret import Secret
from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings
from tests.support.asgi import asgi_client
from tests.support.tansu import Tansu
from tests.unit.sidecar.conftest import (
    CALLER_ID,
    CALLER_SECRET,
    basic,
    jwks_of,
    make_settings,
    sign,
)

pytestmark = pytest.mark.integration

OPERATOR = ("ops", "fake-ops-secret")
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
READY_TIMEOUT_S = 20.0
PROPAGATION_BOUND_S = 2.0


@contextlib.asynccontextmanager
async def replica(settings: SidecarSettings, key: RSAKey) -> AsyncIterator[httpx.AsyncClient]:
    def jwks(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=jwks_of(key))

    http_client = httpx.AsyncClient(transport=httpx.MockTransport(jwks))
    app = create_app(settings, http_client=http_client)
    async with asgi_client(app) as client:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while (await client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, "not ready (replay) in time"
            await asyncio.sleep(0.05)
        yield client
    await http_client.aclose()


async def active(client: httpx.AsyncClient, token: str) -> bool:
    response = await client.post(
        "/oauth2/introspect", data={"token": token}, auth=(CALLER_ID, CALLER_SECRET)
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])


async def test_all_reaches_every_replica_and_a_restarted_one(tansu: Tansu) -> None:
    settings = replace(
        make_settings(event_callers=Secret(":".join(OPERATOR))),
        upstream_url=None,  # JWTs only: verified against the JWKS
        events_bootstrap_servers=tansu.bootstrap,
        revocations_topic="revocations",
        revocation_max_token_lifetime=3600.0,
    )
    # Issued a few seconds ago; the one after the revocation is dated a few seconds
    # ahead (within the accepted skew) rather than waiting for the clock's next second.
    earlier = sign(KEY, {"sub": "u-earlier", "jti": "earlier"}, now=time.time() - 5)
    async with replica(settings, KEY) as a, replica(settings, KEY) as b:
        assert await active(a, earlier)
        assert await active(b, earlier)  # cached on both
        response = await a.post(
            "/revocations", json={"all": True}, headers={"Authorization": basic(*OPERATOR)}
        )
        assert response.status_code == 200, response.text  # Kafka acknowledged the record
        started = time.monotonic()
        while await active(b, earlier):
            assert time.monotonic() - started < PROPAGATION_BOUND_S, "not on replica B"
            await asyncio.sleep(0.01)
        print(f"\nreplica B refused it {time.monotonic() - started:.3f} s after A's 200")
        assert not await active(a, earlier)
        later = sign(KEY, {"sub": "u-later", "jti": "later"}, now=time.time() + 5)
        assert await active(b, later)
        metrics = (await b.get("/metrics")).text
        applied = 'revocation_events_total{outcome="applied",source="replicated",type="everyone"}'
        assert f"{applied} 1.0" in metrics
    async with replica(settings, KEY) as restarted:
        assert not await active(restarted, earlier)
        assert await active(restarted, later)
