"""Fixtures for the client half: a fake clock, a private token cache, token builders."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings
from tests.support.clock import FakeClock as FakeClock  # re-exported: tests import it from here

TOKEN_URL = "https://idp.example/oauth2/token"
START = 1_700_000_000.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned-looking JWS compact token; the client never verifies signatures."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    return f"{header}.{payload}.{b64url(b'not-a-real-signature')}"


def token_response(
    access_token: str = "opaque-token-1",  # noqa: S107 - a fake token
    expires_in: float | None = 300,
    **extra: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"access_token": access_token, "token_type": "Bearer", **extra}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return httpx.Response(200, json=body)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def cache() -> TokenCache:
    return TokenCache()


ProviderFactory = Callable[..., TokenProvider]


@pytest.fixture
def make_provider(clock: FakeClock, cache: TokenCache) -> Iterator[ProviderFactory]:
    """Build providers on the fake clock, a private cache and no real sleeping or jitter."""
    made: list[TokenProvider] = []

    def factory(settings: ClientSettings | None = None, **kwargs: Any) -> TokenProvider:
        settings = settings or ClientSettings(token_url=TOKEN_URL)
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("monotonic", clock.monotonic)
        kwargs.setdefault("sleep", clock.sleep)
        kwargs.setdefault("random", lambda: 0.5)  # jitter centred: exact fractions
        kwargs.setdefault("cache", cache)
        provider = TokenProvider(settings, **kwargs)
        made.append(provider)
        return provider

    yield factory
    for provider in made:
        provider.close()
