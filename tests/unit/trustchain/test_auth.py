"""Forwarding the verified token, and RFC 8693 token exchange through the client half."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import respx
import trustme

from oauthbearer._secret import Secret
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import TokenEndpointError
from oauthbearer.trustchain.auth import (
    TOKEN_TYPE_ACCESS_TOKEN,
    BearerAuth,
    ExchangeAuth,
    TokenExchanger,
)
from oauthbearer.trustchain.claims import VerifiedClaims
from tests.support.mtls_idp import MtlsIdp, SecretVolume, leaf_files, server_context
from tests.unit.trustchain.conftest import NOW, FakeClock

pytestmark = pytest.mark.trustchain

TOKEN_URL = "https://idp.example/token"
API = "https://orders.example/orders"
USER = VerifiedClaims({"sub": "alice", "exp": NOW + 300}, token="user.jwt.sig")


def seen_authorization(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"authorization": request.headers.get("Authorization")})


def settings() -> ClientSettings:
    return ClientSettings(
        token_url=TOKEN_URL,
        client_id="orders-consumer",
        client_secret=Secret("fake-secret"),
        audience="urn:payments",
        scope="payments",
    )


def test_bearer_auth_forwards_the_verified_token() -> None:
    with httpx.Client(transport=httpx.MockTransport(seen_authorization)) as client:
        answer = client.get(API, auth=BearerAuth(USER)).json()
    assert answer == {"authorization": "Bearer user.jwt.sig"}
    assert "user.jwt.sig" not in repr(BearerAuth(USER))


def test_auths_refuse_an_unverified_string() -> None:
    with pytest.raises(TypeError, match="VerifiedClaims"):
        BearerAuth("user.jwt.sig")  # type: ignore[arg-type]


@respx.mock
def test_token_exchange_request_shape_rfc8693(clock: FakeClock) -> None:
    route = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "access_token": "downstream.jwt.sig",
                "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
            },
        )
    )
    exchanger = TokenExchanger(settings(), http_client=httpx.Client(), clock=clock)
    token = exchanger.exchange(USER)

    assert token.access_token == "downstream.jwt.sig"
    request = route.calls.last.request
    form = dict(parse_qsl(request.content.decode()))
    assert form == {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": "user.jwt.sig",
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "scope": "payments",
        "audience": "urn:payments",
    }
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = base64.b64encode(b"orders-consumer:fake-secret").decode()
    assert request.headers["Authorization"] == f"Basic {expected}"

    # Cached per subject until shortly before expiry.
    exchanger.exchange(USER)
    assert route.call_count == 1
    clock.advance(290)
    exchanger.exchange(USER)
    assert route.call_count == 2


@respx.mock
def test_exchange_refusal_is_the_client_halfs_error(clock: FakeClock) -> None:
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
    exchanger = TokenExchanger(settings(), http_client=httpx.Client(), clock=clock)
    with pytest.raises(TokenEndpointError) as info:
        exchanger.exchange(USER)
    assert info.value.error == "invalid_grant"


@respx.mock
def test_exchange_auth_forwards_until_expiring_then_exchanges(clock: FakeClock) -> None:
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json={"access_token": "fresh", "expires_in": 300})
    )
    respx.get(API).mock(side_effect=seen_authorization)
    exchanger = TokenExchanger(settings(), http_client=httpx.Client(), clock=clock)
    auth = ExchangeAuth(USER, exchanger, when="expiring", min_remaining=60, clock=clock)
    with httpx.Client() as client:
        assert client.get(API, auth=auth).json()["authorization"] == "Bearer user.jwt.sig"
        clock.advance(250)  # 50 s left: exchange
        assert client.get(API, auth=auth).json()["authorization"] == "Bearer fresh"
    always = ExchangeAuth(USER, exchanger, clock=clock)
    assert always.token() == "fresh"


@respx.mock
async def test_exchange_auth_with_an_async_client(clock: FakeClock) -> None:
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json={"access_token": "fresh", "expires_in": 300})
    )
    respx.get(API).mock(side_effect=seen_authorization)
    exchanger = TokenExchanger(settings(), http_client=httpx.Client(), clock=clock)
    async with httpx.AsyncClient() as client:
        answer = await client.get(API, auth=ExchangeAuth(USER, exchanger, clock=clock))
    assert answer.json()["authorization"] == "Bearer fresh"


def test_the_exchanger_presents_a_renewed_client_certificate(tmp_path: Path) -> None:
    """tls_client_auth for the exchange itself: the exchanger built one client from the
    files at start and never read them again, so a renewed certificate (cert-manager,
    a symlink swap) was not used until a restart, and the old one expired."""
    ca = trustme.CA()
    volume = SecretVolume(tmp_path / "secret")

    def publish(name: str) -> None:
        leaf = ca.issue_cert(f"{name}@example.com", common_name=name)
        volume.publish({**leaf_files(leaf), "ca.crt": ca.cert_pem.bytes()})

    publish("exchanger-old")
    with MtlsIdp(server_context(ca, ca.issue_cert("127.0.0.1"))) as idp:
        exchanger = TokenExchanger(
            ClientSettings(
                token_url=idp.url,
                client_id="orders-service",
                cert_file=str(volume.path("tls.crt")),
                key_file=str(volume.path("tls.key")),
                ca_file=str(volume.path("ca.crt")),
                audience="urn:payments",
            )
        )
        try:
            alice = VerifiedClaims({"sub": "alice"}, token="alice-token")
            bob = VerifiedClaims({"sub": "bob"}, token="bob-token")
            assert exchanger.exchange(alice).access_token == "token-for-exchanger-old"
            publish("exchanger-new")
            assert exchanger.exchange(bob).access_token == "token-for-exchanger-new"
        finally:
            exchanger.close()
    assert [name for name, _form in idp.seen] == ["exchanger-old", "exchanger-new"]


@respx.mock
def test_an_exp_no_long_holds_is_no_usable_expiry(clock: FakeClock) -> None:
    # exp - now raised OverflowError for 10**400 (an introspection answer may carry it).
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json={"access_token": "fresh", "expires_in": 300})
    )
    huge = VerifiedClaims({"sub": "alice", "exp": 10**400}, token="user.jwt.sig")
    exchanger = TokenExchanger(settings(), http_client=httpx.Client(), clock=clock)
    auth = ExchangeAuth(huge, exchanger, when="expiring", min_remaining=60, clock=clock)
    assert auth.token() == "fresh"  # exchanged, as for no exp at all
