"""The sidecar against the real authorization server (npm oidc-provider on loopback).

The app runs in-process (``httpx.ASGITransport`` with its lifespan, which opens the real
shared ``httpx.AsyncClient`` to the IdP); only the clock is fake, so cache expiry is
driven by the test, never waited for. Requests are made in both peers' exact shapes.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings
from tests.support.asgi import asgi_client
from tests.support.idp import JWT_RESOURCE, Idp, IdpFactory

pytestmark = pytest.mark.integration

CALLER_ID, CALLER_SECRET = "broker", "fake-broker-secret+/="
CACHE_TTL = 30
JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sidecar:
    def __init__(self, app: Starlette, client: httpx.AsyncClient, clock: Clock) -> None:
        self.app = app
        self.client = client
        self.clock = clock

    async def jairsjunior(self, token: str) -> httpx.Response:
        """Raw body, stray charset header, Java's Accept, standard-alphabet Basic."""
        raw = f"{CALLER_ID}:{CALLER_SECRET}".encode()
        return await self.client.post(
            "/oauth2/introspect",
            content=b"token=" + token.encode(),
            headers={
                "Authorization": "Basic " + base64.b64encode(raw).decode(),
                "charset": "utf-8",
                "Accept": JAVA_ACCEPT,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )

    async def strimzi(self, token: str) -> httpx.Response:
        """URL-encoded body, Accept JSON, URL-safe-alphabet Basic with padding."""
        raw = f"{CALLER_ID}:{CALLER_SECRET}".encode()
        return await self.client.post(
            "/oauth2/introspect",
            data={"token": token},
            headers={
                "Authorization": "Basic " + base64.urlsafe_b64encode(raw).decode(),
                "Accept": "application/json",
            },
        )

    async def metrics(self) -> str:
        return (await self.client.get("/metrics")).text


def sidecar_env(idp: Idp, *, upstream: bool = True, jwks: bool = True) -> dict[str, str]:
    env = {
        "OAUTHBEARER_CALLERS": f"{CALLER_ID}:{CALLER_SECRET}",
        "OAUTHBEARER_CACHE_TTL": str(CACHE_TTL),
        "OAUTHBEARER_NEGATIVE_CACHE_TTL": "0",
        "OAUTHBEARER_UPSTREAM_TIMEOUT": "2",
    }
    if upstream:
        env |= idp.introspect_env()
    if jwks:
        env |= {
            "OAUTHBEARER_JWKS_URL": idp.jwks_url,
            "OAUTHBEARER_ISSUER": idp.issuer,
            "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
            "OAUTHBEARER_JWT_TYP": "at+jwt",
        }
    return env


@contextlib.asynccontextmanager
async def sidecar(env: Mapping[str, str]) -> AsyncIterator[Sidecar]:
    clock = Clock()
    app = create_app(SidecarSettings.from_env(env), clock=clock)
    async with asgi_client(app) as client:
        yield Sidecar(app, client, clock)


def assert_active(body: dict[str, Any], sub: str) -> None:
    assert body["active"] is True
    assert type(body["exp"]) is int
    assert type(body["iat"]) is int
    assert body["sub"] == sub
    assert body["scope"] == "kafka"
    assert isinstance(body["iss"], str)


async def test_opaque_token_via_upstream_introspection(idp: Idp) -> None:
    token = idp.fetch_token("opaque")["access_token"]
    async with sidecar(sidecar_env(idp)) as s:
        for response in (await s.jairsjunior(token), await s.strimzi(token)):
            assert response.status_code == 200
            assert_active(response.json(), "kafka-opaque")
            assert response.json()["client_id"] == "kafka-opaque"
        metrics = await s.metrics()
    assert 'requests_total{result="active",source="upstream"} 1.0' in metrics
    assert 'requests_total{result="active",source="cache"} 1.0' in metrics


async def test_jwt_token_via_jwks_without_upstream_call(idp: Idp) -> None:
    token = idp.fetch_token("basic")["access_token"]
    async with sidecar(sidecar_env(idp)) as s:
        response = await s.strimzi(token)
        body = response.json()
        assert_active(body, "kafka-basic")
        assert body["aud"] == JWT_RESOURCE
        assert body["iss"] == idp.issuer
        metrics = await s.metrics()
    assert 'requests_total{result="active",source="jwks"} 1.0' in metrics
    assert "upstream_latency_seconds_count 0.0" in metrics


async def test_jwks_only_sidecar_refuses_opaque_tokens(idp: Idp) -> None:
    opaque = idp.fetch_token("opaque")["access_token"]
    jwt_token = idp.fetch_token("post")["access_token"]
    async with sidecar(sidecar_env(idp, upstream=False)) as s:
        assert (await s.jairsjunior(opaque)).json() == {"active": False}
        assert_active((await s.jairsjunior(jwt_token)).json(), "kafka-post")


async def test_revocation_visible_after_cache_ttl(idp: Idp) -> None:
    token = idp.fetch_token("opaque")["access_token"]
    async with sidecar(sidecar_env(idp)) as s:
        assert (await s.jairsjunior(token)).json()["active"] is True
        idp.revoke(token)
        # Cached: the revocation is not yet visible (CACHE_TTL is the worst-case delay).
        s.clock.advance(CACHE_TTL - 1)
        assert (await s.jairsjunior(token)).json()["active"] is True
        s.clock.advance(1)
        assert (await s.jairsjunior(token)).content == b'{"active":false}'


async def test_key_rotation_by_restarting_the_server(idp_factory: IdpFactory) -> None:
    server = idp_factory()
    env = sidecar_env(server, upstream=False)
    old_token = server.fetch_token("basic")["access_token"]
    async with sidecar(env) as s:
        assert (await s.strimzi(old_token)).json()["active"] is True
        server.restart()  # same port, new signing key, old one gone from /jwks
        new_token = server.fetch_token("basic")["access_token"]
        # Unknown kid → one refetch → the new key verifies.
        assert_active((await s.strimzi(new_token)).json(), "kafka-basic")
        # Once its cache entry is gone, the old token's key is no longer published.
        s.clock.advance(CACHE_TTL)
        assert (await s.strimzi(old_token)).json() == {"active": False}
        assert (await s.strimzi(new_token)).json()["active"] is True


async def test_upstream_killed_uncached_503_cached_served_until_ttl(
    idp_factory: IdpFactory,
) -> None:
    server = idp_factory()
    cached_token = server.fetch_token("opaque")["access_token"]
    uncached_token = server.fetch_token("opaque")["access_token"]
    async with sidecar(sidecar_env(server, jwks=False)) as s:
        assert (await s.jairsjunior(cached_token)).json()["active"] is True
        server.stop()
        started = time.monotonic()
        response = await s.jairsjunior(uncached_token)
        assert response.status_code == 503
        assert time.monotonic() - started < 3  # quickly, not the peers' 60 s
        assert "active" not in response.text
        # The cached token keeps working until its TTL...
        s.clock.advance(CACHE_TTL - 1)
        assert (await s.strimzi(cached_token)).json()["active"] is True
        # ...then it must be asked about again, and the upstream is down.
        s.clock.advance(1)
        assert (await s.strimzi(cached_token)).status_code == 503
        ready = await s.client.get("/readyz")
        assert ready.status_code == 503
