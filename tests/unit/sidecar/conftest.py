"""Shared fixtures for the sidecar's unit tests: a fake clock, signing keys, a harness.

Every credential here is obviously fake. Nothing sleeps to wait for an expiry: the clock
is a :class:`FakeClock` advanced by hand.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette

from oauthbearer._secret import Secret
from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings
from tests.support.asgi import asgi_client
from tests.support.clock import NOW as NOW  # re-exported: tests import it from here
from tests.support.clock import FakeClock as FakeClock

UPSTREAM_URL = "https://idp.example/oauth2/introspect"
JWKS_URL = "https://idp.example/jwks"
ISSUER = "https://idp.example"
AUDIENCE = "urn:kafka"
# Credentials chosen so their standard base64 contains '+' and '/', which the URL-safe
# alphabet (Strimzi) turns into '-' and '_'.
CALLER_ID = "broker"
CALLER_SECRET = "fake>>secret??~~"
UPSTREAM_AUTHORIZATION = "Basic ZmFrZS1zaWRlY2FyOmZha2UtdXBzdHJlYW0tc2VjcmV0"


def basic(ident: str, secret: str, *, urlsafe: bool = False) -> str:
    raw = f"{ident}:{secret}".encode()
    encoded = base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)
    return "Basic " + encoded.decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_settings(**overrides: Any) -> SidecarSettings:
    base = SidecarSettings(
        upstream_url=UPSTREAM_URL,
        upstream_authorization=Secret(UPSTREAM_AUTHORIZATION),
        jwks_url=JWKS_URL,
        issuer=ISSUER,
        audiences=(AUDIENCE,),
        callers=Secret(f"{CALLER_ID}:{CALLER_SECRET}"),
        cache_ttl=60.0,
        negative_cache_ttl=2.0,
    )
    return replace(base, **overrides)


@pytest.fixture(scope="session")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})


@pytest.fixture(scope="session")
def rsa_key2() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256", "use": "sig"})


@pytest.fixture(scope="session")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "e1", "use": "sig"})


def jwks_of(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def sign(
    key: RSAKey | ECKey,
    claims: dict[str, Any] | None = None,
    *,
    alg: str = "RS256",
    header: dict[str, Any] | None = None,
    now: float = NOW,
) -> str:
    body: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "orders-service",
        "client_id": "orders-service",
        "scope": "kafka",
        "iat": int(now),
        "exp": int(now) + 300,
        "jti": "jti-1",
    }
    body.update(claims or {})
    hdr = {"alg": alg, "kid": key.kid, **(header or {})}
    return jwt.encode(hdr, {k: v for k, v in body.items() if v is not None}, key, algorithms=[alg])


def unsigned_jwt(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [
            b64url(json.dumps(header).encode()),
            b64url(json.dumps(claims).encode()),
            b64url(signature),
        ]
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def router() -> respx.MockRouter:
    """respx routes for the upstream and the JWKS, served through an injected client."""
    return respx.MockRouter(assert_all_called=False, assert_all_mocked=True)


class Harness:
    """The app with its lifespan running, a client to call it, and the mocked upstream."""

    def __init__(self, app: Starlette, client: httpx.AsyncClient, router: respx.MockRouter):
        self.app = app
        self.client = client
        self.router = router

    @property
    def sidecar(self) -> Any:
        return self.app.state.sidecar

    async def introspect(
        self,
        token: str,
        *,
        authorization: str | None = None,
        path: str = "/oauth2/introspect",
    ) -> httpx.Response:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers["Authorization"] = (
            authorization if authorization is not None else basic(CALLER_ID, CALLER_SECRET)
        )
        return await self.client.post(path, content=f"token={token}", headers=headers)


@contextlib.asynccontextmanager
async def running(
    settings: SidecarSettings, router: respx.MockRouter, clock: FakeClock
) -> AsyncIterator[Harness]:
    upstream_client = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    app = create_app(settings, http_client=upstream_client, clock=clock)
    # Errors must show as the 500 a broker would see, not be re-raised into the test.
    async with asgi_client(app, raise_app_exceptions=False) as client:
        yield Harness(app, client, router)
    await upstream_client.aclose()


@pytest.fixture
async def served(rsa_key: RSAKey) -> AsyncIterator[Any]:
    """The sidecar behind a real uvicorn on loopback (tests/unit/sidecar/real_uvicorn.py)."""
    from tests.unit.sidecar.real_uvicorn import serve  # it imports this module's helpers

    async with serve(rsa_key) as it:
        yield it
