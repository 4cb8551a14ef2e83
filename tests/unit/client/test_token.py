"""Token responses: expiry rules, nonsense refused with clear errors, masked reprs."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from oauthbearer.client.token import DEFAULT_LIFETIME, Token, parse_token_response, token_answer
from oauthbearer.errors import TokenResponseError

from .conftest import make_jwt

NOW = 1_700_000_000.0


def parse(body: dict[str, Any] | bytes, *, skew: float = 30.0) -> Token:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_token_response(raw, now=NOW, endpoint_host="idp.example", clock_skew=skew)


def test_expires_in_minus_skew() -> None:
    t = parse({"access_token": "abc", "expires_in": 3600, "token_type": "bearer", "scope": "kafka"})
    assert t.expires_at == NOW + 3600 - 30
    assert t.issued_at == NOW
    assert t.scope == "kafka"
    assert t.claims == {}


def test_skew_never_eats_more_than_a_quarter_of_a_short_lifetime() -> None:
    assert parse({"access_token": "abc", "expires_in": 20}).expires_at == NOW + 15


def test_expires_in_as_numeric_string_is_accepted() -> None:
    assert parse({"access_token": "abc", "expires_in": "600"}, skew=0).expires_at == NOW + 600


def test_jwt_exp_earlier_than_expires_in_wins() -> None:
    jwt = make_jwt({"sub": "svc", "exp": int(NOW) + 120})
    t = parse({"access_token": jwt, "expires_in": 3600}, skew=0)
    assert t.expires_at == NOW + 120
    assert t.claims["sub"] == "svc"


def test_expires_in_earlier_than_jwt_exp_wins() -> None:
    jwt = make_jwt({"exp": int(NOW) + 3600})
    assert parse({"access_token": jwt, "expires_in": 60}, skew=0).expires_at == NOW + 60


def test_jwt_without_expires_in_uses_exp() -> None:
    jwt = make_jwt({"exp": int(NOW) + 900})
    assert parse({"access_token": jwt}, skew=0).expires_at == NOW + 900


def test_opaque_token_without_any_expiry_gets_the_default(caplog: pytest.LogCaptureFixture) -> None:
    t = parse({"access_token": "opaque"}, skew=0)
    assert t.expires_at == NOW + DEFAULT_LIFETIME
    assert "sent no expires_in" in caplog.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b"[1, 2]", "not an object"),
        ({"token_type": "Bearer", "expires_in": 300}, "without an access_token"),
        ({"access_token": "", "expires_in": 300}, "without an access_token"),
        ({"access_token": 42, "expires_in": 300}, "without an access_token"),
        ({"access_token": "has space", "expires_in": 300}, "b64token"),
        ({"access_token": "abc", "expires_in": 300, "token_type": "DPoP"}, "not Bearer"),
        ({"access_token": "abc", "expires_in": -5}, "already expired"),
        ({"access_token": "abc", "expires_in": 0}, "already expired"),
        ({"access_token": "abc", "expires_in": "soon"}, "not a number"),
        ({"access_token": "abc", "expires_in": True}, "not a number"),
        ({"access_token": "abc", "expires_in": 3_600_000}, "milliseconds"),
        ({"access_token": make_jwt({"exp": int(NOW * 1000) + 60_000})}, "milliseconds"),
        ({"access_token": make_jwt({"exp": int(NOW) - 10}), "expires_in": 300}, "expired already"),
        ({"access_token": make_jwt({"exp": "tomorrow"})}, "not a number"),
    ],
)
def test_nonsense_is_refused_with_a_clear_error(body: dict[str, Any] | bytes, message: str) -> None:
    with pytest.raises(TokenResponseError, match=message) as info:
        parse(body)
    assert "idp.example" in str(info.value)


def test_error_messages_never_contain_the_token() -> None:
    secret_token = make_jwt({"exp": int(NOW) - 10, "sub": "x"})
    with pytest.raises(TokenResponseError) as info:
        parse({"access_token": secret_token})
    assert secret_token not in str(info.value)
    assert secret_token.split(".")[1] not in str(info.value)


def test_non_jwt_dotted_tokens_are_opaque() -> None:
    assert parse({"access_token": "a.b", "expires_in": 60}).claims == {}
    assert parse({"access_token": "not.json.here", "expires_in": 60}).claims == {}


def test_repr_shows_fingerprint_never_the_token() -> None:
    jwt = make_jwt({"sub": "svc", "exp": int(NOW) + 600})
    t = parse({"access_token": jwt, "refresh_token": "refresh-me-secret"})
    text = repr(t) + str(t)
    assert jwt not in text
    assert "refresh-me-secret" not in text
    assert t.fingerprint in text
    assert "svc" in text


def test_principal_picks_the_first_string_claim() -> None:
    t = Token(
        "x", expires_at=NOW + 1, issued_at=NOW, claims={"sub": "", "client_id": "kafka", "n": 3}
    )
    assert t.principal("azp", "sub", "client_id") == "kafka"
    assert t.principal("n") is None


def test_scope_array_is_normalised_to_space_separated() -> None:
    assert parse({"access_token": "abc", "expires_in": 60, "scope": ["a", "b"]}).scope == "a b"


def test_claims_are_read_only() -> None:
    t = parse({"access_token": make_jwt({"exp": int(NOW) + 60})})
    with pytest.raises(TypeError):
        t.claims["exp"] = 0  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [b'{"access_token":"x","n":' + b"9" * 5000 + b"}", b'{"x":' + b"[" * 100_000 + b"}"],
    ids=["a-number-too-long-to-convert", "nested-too-deep"],
)
def test_a_2xx_body_json_cannot_read_is_a_token_response_error(body: bytes) -> None:
    # Both within the 1 MiB answer cap; neither may escape as ValueError/RecursionError.
    with pytest.raises(TokenResponseError, match="not JSON"):
        token_answer(body, endpoint_host="idp.example")


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token":"abc","expires_in":1' + b"0" * 400 + b"}",
        b'{"access_token":"abc","expires_in":1e400}',
    ],
    ids=["int-beyond-a-long", "float-beyond-a-double"],
)
def test_an_expires_in_no_long_holds_is_refused_clearly(body: bytes) -> None:
    # 10**400 raised OverflowError out of math.isfinite: past every handler, no backoff.
    with pytest.raises(TokenResponseError, match="expires_in"):
        parse(body)


def test_a_jwt_exp_no_long_holds_is_refused_clearly() -> None:
    token = make_jwt({"sub": "a"}).split(".")
    payload = b'{"sub":"a","exp":1' + b"0" * 400 + b"}"
    token[1] = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    with pytest.raises(TokenResponseError, match="exp"):
        parse({"access_token": ".".join(token)})


@pytest.mark.parametrize("expires_in", [1e-9, 5e-324, "1e-9", 0.001, 1.2])
def test_a_token_usable_for_less_than_a_second_is_refused(expires_in: object) -> None:
    # Accepted, it was expired on arrival: every call fetched again, and a producer
    # waited 10 s for a token with no cause logged. (1.2 s minus a quarter: 0.9 s.)
    with pytest.raises(TokenResponseError, match="usable for"):
        parse({"access_token": "abc", "expires_in": expires_in})


def test_a_jwt_exp_far_ahead_is_capped_by_the_maximum_lifetime() -> None:
    token = make_jwt({"sub": "a", "exp": int(NOW) + 10 * 365 * 86_400})
    t = parse({"access_token": token})
    assert t.expires_at == NOW + 172_800 - 30  # the default maximum, minus the skew


def test_a_principal_claim_that_is_not_printable_is_passed_over() -> None:
    token = make_jwt({"sub": "a\u0000b", "client_id": "orders", "exp": int(NOW) + 600})
    t = parse({"access_token": token})
    assert t.principal("sub", "client_id") == "orders"
    newline = make_jwt({"sub": "line\nbreak", "exp": int(NOW) + 600})
    assert parse({"access_token": newline}).principal("sub") is None
