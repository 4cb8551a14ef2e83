"""The Starlette middleware: RFC 6750 §3 answers, claims handed to the endpoint."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from oauthbearer.trustchain.middleware import BearerTokenMiddleware, claims_of
from oauthbearer.trustchain.verifiers import JwksVerifier
from tests.unit.trustchain.conftest import JwksServer, Signer

pytestmark = pytest.mark.trustchain


async def whoami(request: Request) -> JSONResponse:
    claims = claims_of(request)
    return JSONResponse({"sub": claims["sub"], "via_state": request.state.claims["sub"]})


async def health(request: Request) -> PlainTextResponse:
    with pytest.raises(LookupError):
        claims_of(request)
    return PlainTextResponse("ok")


def service(verifier: JwksVerifier) -> Starlette:
    app = Starlette(routes=[Route("/whoami", whoami), Route("/healthz", health)])
    app.add_middleware(
        BearerTokenMiddleware, verifier=verifier, realm="orders", exempt={"/healthz"}
    )
    return app


def client(verifier: JwksVerifier) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service(verifier)), base_url="http://orders"
    )


async def test_valid_token_reaches_the_endpoint_with_its_claims(
    sign: Signer, verifier: JwksVerifier
) -> None:
    async with client(verifier) as c:
        response = await c.get("/whoami", headers={"Authorization": f"Bearer {sign()}"})
    assert response.status_code == 200
    assert response.json() == {"sub": "alice", "via_state": "alice"}


async def test_missing_token_is_401_without_an_error_code(verifier: JwksVerifier) -> None:
    async with client(verifier) as c:
        response = await c.get("/whoami")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize(
    ("claims", "description"),
    [({"aud": "urn:payments"}, "audience mismatch"), ({"exp_in": -3600}, "expired")],
)
async def test_invalid_token_is_401_invalid_token(
    sign: Signer, verifier: JwksVerifier, claims: dict[str, object], description: str
) -> None:
    token = sign(**claims)
    async with client(verifier) as c:
        response = await c.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        f'Bearer realm="orders", error="invalid_token", error_description="{description}"'
    )
    assert token not in response.text


async def test_tampered_token_is_401(sign: Signer, verifier: JwksVerifier) -> None:
    header, _, signature = sign().split(".")
    forged = f"{header}.{sign(sub='mallory').split('.')[1]}.{signature}"
    async with client(verifier) as c:
        response = await c.get("/whoami", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


async def test_another_scheme_gets_the_bare_bearer_challenge(verifier: JwksVerifier) -> None:
    """RFC 6750 §3.1: an unsupported authentication method is a request without bearer
    credentials: 401 and a challenge with no error code, as for no header at all."""
    async with client(verifier) as c:
        response = await c.get("/whoami", headers={"Authorization": "Basic YTpi"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="orders"'


@pytest.mark.parametrize(
    "headers",
    [
        [
            ("Authorization", "Bearer "),
        ],
        [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer d.e.f")],
    ],
)
async def test_an_empty_or_repeated_bearer_header_is_400_invalid_request(
    verifier: JwksVerifier, headers: list[tuple[str, str]]
) -> None:
    async with client(verifier) as c:
        response = await c.get("/whoami", headers=headers)
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


async def test_no_verdict_is_503_not_401(
    sign: Signer, jwks: JwksServer, verifier: JwksVerifier
) -> None:
    jwks.status = 500
    async with client(verifier) as c:
        response = await c.get("/whoami", headers={"Authorization": f"Bearer {sign()}"})
    assert response.status_code == 503


async def test_exempt_path_needs_no_token(verifier: JwksVerifier) -> None:
    async with client(verifier) as c:
        response = await c.get("/healthz")
    assert response.status_code == 200


def scoped_client(verifier: JwksVerifier, *required: str) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/whoami", whoami)])
    app.add_middleware(
        BearerTokenMiddleware, verifier=verifier, realm="orders", required_scopes=required
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders")


@pytest.mark.parametrize(
    "granted",
    [
        {"scope": "orders:read orders:write"},
        {"scope": ["orders:write", "orders:read"]},
        {"scp": ["orders:read", "orders:write", "x"]},
    ],
)
async def test_required_scopes_present_pass(
    sign: Signer, verifier: JwksVerifier, granted: dict[str, object]
) -> None:
    async with scoped_client(verifier, "orders:read", "orders:write") as c:
        response = await c.get("/whoami", headers={"Authorization": f"Bearer {sign(**granted)}"})
    assert response.status_code == 200


@pytest.mark.parametrize("granted", [{"scope": "orders:read"}, {}, {"scope": 7}])
async def test_missing_scope_is_403_insufficient_scope(
    sign: Signer, verifier: JwksVerifier, granted: dict[str, object]
) -> None:
    token = sign(**granted)
    async with scoped_client(verifier, "orders:write", "orders:read") as c:
        response = await c.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403  # RFC 6750 §3.1: valid, but not enough
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="orders", error="insufficient_scope", scope="orders:read orders:write"'
    )
    assert response.json() == {"error": "insufficient_scope"}
    assert token not in response.text


def test_required_scopes_must_be_scope_tokens(verifier: JwksVerifier) -> None:
    app = Starlette()
    for bad in (["two words"], ['quote"'], [""]):
        with pytest.raises(ValueError, match="required_scopes"):
            BearerTokenMiddleware(app, verifier=verifier, required_scopes=bad)
