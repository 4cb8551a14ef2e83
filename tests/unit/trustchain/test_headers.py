"""Attaching the token to a record's headers and reading it back."""

from __future__ import annotations

import httpx
import pytest

from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.token import Token
from oauthbearer.errors import TokenMissing
from oauthbearer.trustchain.headers import TOKEN_HEADER, attach_token, read_token

pytestmark = pytest.mark.trustchain

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_~+/=="


def test_round_trip_keeps_other_headers_and_uses_the_documented_name() -> None:
    headers = attach_token([("trace", b"1")], JWT)
    assert headers == [("trace", b"1"), (TOKEN_HEADER, JWT.encode())]
    assert TOKEN_HEADER == "oauthbearer-token"
    assert read_token(headers) == JWT


def test_attach_replaces_an_existing_token_header() -> None:
    headers = attach_token([(TOKEN_HEADER, b"old"), ("x", None)], JWT)
    assert [v for k, v in headers if k == TOKEN_HEADER] == [JWT.encode()]
    assert ("x", None) in headers


def test_header_name_is_configurable() -> None:
    headers = attach_token({"x": b"y"}, JWT, header="user-token")
    assert read_token(headers, header="user-token") == JWT
    with pytest.raises(TokenMissing, match="'oauthbearer-token': missing"):
        read_token(headers)


def test_token_from_a_client_token_and_from_a_token_provider() -> None:
    assert read_token(attach_token(None, Token(JWT, expires_at=2.0, issued_at=1.0))) == JWT

    def idp(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"access_token": JWT, "expires_in": 600})

    provider = TokenProvider(
        ClientSettings(token_url="https://idp.example/token"),
        http_client=httpx.Client(transport=httpx.MockTransport(idp)),
        cache=TokenCache(),
    )
    assert read_token(attach_token(None, provider)) == JWT


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        (None, "missing"),
        ([], "missing"),
        ([(TOKEN_HEADER, b"a"), (TOKEN_HEADER, b"b")], "present 2 times"),
        ([(TOKEN_HEADER, None)], "without a value"),
        ([(TOKEN_HEADER, b"")], "empty token"),
        ([(TOKEN_HEADER, b"abc\r\nX-Evil: 1")], "b64token"),
        ([(TOKEN_HEADER, "caf\u00e9".encode())], "not ASCII"),
        ([(TOKEN_HEADER, b"a" * 20_000)], "longer than"),
    ],
)
def test_read_refuses_anything_but_exactly_one_well_formed_token(
    headers: list[tuple[str, bytes | None]] | None, problem: str
) -> None:
    with pytest.raises(TokenMissing, match=problem) as info:
        read_token(headers)
    assert info.value.where == f"record header {TOKEN_HEADER!r}"


def test_attach_refuses_a_value_that_could_inject_http_headers() -> None:
    with pytest.raises(TokenMissing, match="b64token"):
        attach_token(None, "abc\nAuthorization: x")
