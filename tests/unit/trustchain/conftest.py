"""Fixtures for the trust chain's unit tests: a fake clock, keys, tokens signed in-test.

Every credential here is fake. The JWKS endpoint is an ``httpx.MockTransport``; nothing
sleeps: the clock is a :class:`FakeClock`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from oauthbearer.trustchain.blocking import BlockingVerifier
from oauthbearer.trustchain.verifiers import JwksVerifier
from tests.support.clock import NOW as NOW  # re-exported: tests import it from here
from tests.support.clock import FakeClock as FakeClock

ISSUER = "https://idp.example"
AUDIENCE = "urn:orders"
JWKS_URL = "https://idp.example/jwks"


@pytest.fixture(scope="session")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})


@pytest.fixture(scope="session")
def other_key() -> RSAKey:
    """Same kid, not in the JWKS: what a forger would sign with."""
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})


Signer = Callable[..., str]


@pytest.fixture
def sign(key: RSAKey) -> Signer:
    """``sign(exp_in=300, key=None, **claims)``: a JWT issued at NOW by default."""

    def make(
        *, exp_in: float = 300, iat: float = NOW, signer: RSAKey | None = None, **extra: Any
    ) -> str:
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "alice",
            "iat": int(iat),
            "exp": int(iat + exp_in),
            **extra,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode({"alg": "RS256", "kid": "k1", "typ": "at+jwt"}, claims, signer or key)

    return make


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class JwksServer:
    """Counts JWKS fetches; ``status`` set to e.g. 503 makes them fail."""

    def __init__(self, key: RSAKey) -> None:
        self.document = {"keys": [key.as_dict(private=False)]}
        self.status = 200
        self.fetches = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.status != 200:
            return httpx.Response(self.status)
        return httpx.Response(200, content=json.dumps(self.document).encode())


@pytest.fixture
def jwks(key: RSAKey) -> JwksServer:
    return JwksServer(key)


@pytest.fixture
def verifier(jwks: JwksServer, clock: FakeClock) -> JwksVerifier:
    client = httpx.AsyncClient(transport=httpx.MockTransport(jwks))
    return JwksVerifier(JWKS_URL, issuer=ISSUER, audiences=AUDIENCE, client=client, clock=clock)


@pytest.fixture
def blocking(verifier: JwksVerifier) -> Iterator[BlockingVerifier]:
    with BlockingVerifier(verifier) as v:
        yield v
