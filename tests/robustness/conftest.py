"""The robustness layer's shared world: a running sidecar with a mocked upstream and JWKS.

Two flavours of the same in-process app (the ``tests/unit/sidecar`` harness, reused):

* :class:`SyncSidecar` runs it on a private event loop so hypothesis (whose ``@given``
  functions are synchronous) can call it hundreds of times against one lifespan;
* the async ``running`` context manager, for tests that drive concurrency themselves.

The upstream knows exactly the tokens in :data:`GOOD_OPAQUE`; the JWKS holds one RSA key.
Anything else the fuzzers invent must come back as 400, 401, 413 or exactly
``{"active": false}`` — never ``active: true``, never a 5xx other than the documented 503.
Every credential here is fake; the clock is fake and never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import respx
from joserfc.jwk import RSAKey

from oauthbearer.sidecar.settings import SidecarSettings
from tests.unit.sidecar.conftest import (
    CALLER_ID,
    CALLER_SECRET,
    JWKS_URL,
    NOW,
    UPSTREAM_URL,
    FakeClock,
    Harness,
    basic,
    jwks_of,
    make_settings,
    running,
)

__all__ = [
    "AUTH",
    "GOOD_OPAQUE",
    "SyncSidecar",
    "active_claims",
    "upstream_world",
]

AUTH = basic(CALLER_ID, CALLER_SECRET)
GOOD_OPAQUE = frozenset({"good-opaque-token-1", "good+opaque/token=="})


def active_claims(now: float = NOW) -> dict[str, Any]:
    return {
        "active": True,
        "sub": "orders-service",
        "client_id": "orders-service",
        "scope": "kafka",
        "exp": int(now) + 300,
        "iat": int(now) - 10,
    }


def form_token(request: httpx.Request) -> str:
    """The token the sidecar sent upstream (it always URL-encodes it, RFC 7662 §2.1)."""
    body = request.content.decode("ascii")
    assert body.startswith("token="), body
    return unquote(body.removeprefix("token="))


def upstream_world(router: respx.MockRouter, key: RSAKey) -> list[str]:
    """Mock the JWKS and an upstream that knows :data:`GOOD_OPAQUE`; returns what it saw."""
    seen: list[str] = []

    def introspect(request: httpx.Request) -> httpx.Response:
        token = form_token(request)
        seen.append(token)
        if token in GOOD_OPAQUE:
            return httpx.Response(200, json=active_claims())
        return httpx.Response(200, json={"active": False})

    router.get(JWKS_URL).respond(200, json=jwks_of(key))
    router.post(UPSTREAM_URL).mock(side_effect=introspect)
    return seen


class SyncSidecar:
    """The app and its lifespan on a private event loop, callable from synchronous code."""

    def __init__(self, settings: SidecarSettings, router: respx.MockRouter, clock: FakeClock):
        self.loop = asyncio.new_event_loop()
        self._stack = contextlib.AsyncExitStack()
        self.clock = clock
        self.harness: Harness = self.loop.run_until_complete(
            self._stack.enter_async_context(running(settings, router, clock))
        )

    def post(
        self,
        content: bytes,
        *,
        headers: dict[str, str] | None = None,
        path: str = "/oauth2/introspect",
    ) -> httpx.Response:
        merged = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": AUTH}
        merged.update(headers or {})
        request = self.harness.client.post(path, content=content, headers=merged)
        return self.loop.run_until_complete(request)

    def get(self, path: str) -> httpx.Response:
        return self.loop.run_until_complete(self.harness.client.get(path))

    def close(self) -> None:
        self.loop.run_until_complete(self._stack.aclose())
        self.loop.close()


def assert_contract(response: httpx.Response, *, allow_503: bool = False) -> dict[str, Any]:
    """CONTRACT.md §3-4: only documented statuses, JSON bodies, no trace; returns the body."""
    allowed = {200, 400, 401, 413, 429} | ({503} if allow_503 else set())
    assert response.status_code in allowed, (response.status_code, response.text[:200])
    assert "Traceback" not in response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers.get("cache-control") == "no-store"
    body = json.loads(response.content)
    assert isinstance(body, dict)
    if response.status_code == 200:
        if body.get("active") is not True:
            assert body == {"active": False}, body  # RFC 7662 §2.2: nothing else
    else:
        assert set(body) == {"error"}, body
    if response.status_code == 401:
        assert response.headers["www-authenticate"].startswith("Basic ")
    return body


@pytest.fixture(scope="session")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})


@pytest.fixture(scope="module")
def sidecar(rsa_key: RSAKey) -> Iterator[SyncSidecar]:
    """One sidecar per module for the property tests (upstream knows GOOD_OPAQUE)."""
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    upstream_world(router, rsa_key)
    app = SyncSidecar(make_settings(), router, FakeClock())
    yield app
    app.close()
