"""The exact token request of every grant and every client authentication method."""

from __future__ import annotations

import base64
import os
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote_plus, unquote_plus

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from oauthbearer._secret import FileSecret, Secret
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import (
    ConfigurationError,
    TokenEndpointError,
    TokenRequestError,
    TokenResponseError,
)

from .conftest import TOKEN_URL, FakeClock, token_response

CLIENT_ID = "kafka client"
SECRET = "fake:secret/with+odd chars="


@pytest.fixture
def idp() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL).mock(return_value=token_response())
        yield router


def fetcher(settings: ClientSettings, clock: FakeClock) -> TokenFetcher:
    return TokenFetcher(
        settings, http_client=httpx.Client(), clock=clock, monotonic=clock.monotonic
    )


def sent(router: respx.MockRouter, index: int = -1) -> httpx.Request:
    request: httpx.Request = router.calls[index].request
    return request


def form(request: httpx.Request) -> list[tuple[str, str]]:
    return parse_qsl(request.content.decode(), keep_blank_values=True)


# --- client authentication -------------------------------------------------------------
def test_verbatim_authorization_header_and_exact_body(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    header = "Basic a2Fma2E6ZmFrZQ=="
    settings = ClientSettings.from_env(
        {
            "OAUTH_LOGIN_SERVER": "idp.example",
            "OAUTH_LOGIN_ENDPOINT": "/oauth2/token",
            "OAUTH_LOGIN_SCOPE": "kafka write",
            "OAUTH_AUTHORIZATION": header,
        }
    )
    fetcher(settings, clock).fetch()
    request = sent(idp)
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["Authorization"] == header
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json"
    assert request.content == b"grant_type=client_credentials&scope=kafka+write"


@pytest.mark.parametrize("raw", ["kafka+write", "kafka%20write", "kafka write"])
def test_jairsjunior_scope_reaches_the_server_as_jairsjunior_s_raw_body_would(
    idp: respx.MockRouter, clock: FakeClock, raw: str
) -> None:
    # jairsjunior writes scope=<value> unencoded, so the server's form decoding turns
    # "kafka+write" into two scopes. Encoding the value as it stands asked for one scope
    # named "kafka+write" instead.
    settings = ClientSettings.from_env(
        {
            "OAUTH_LOGIN_SERVER": "idp.example",
            "OAUTH_LOGIN_ENDPOINT": "/oauth2/token",
            "OAUTH_LOGIN_SCOPE": raw,
            "OAUTH_AUTHORIZATION": "Basic a2Fma2E6ZmFrZQ==",
        }
    )
    fetcher(settings, clock).fetch()
    jairsjunior_body = f"grant_type=client_credentials&scope={raw}"
    assert form(sent(idp)) == parse_qsl(jairsjunior_body)
    assert dict(form(sent(idp)))["scope"] == "kafka write"


def test_client_secret_basic_form_encodes_id_and_secret(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    s = ClientSettings(token_url=TOKEN_URL, client_id=CLIENT_ID, client_secret=Secret(SECRET))
    fetcher(s, clock).fetch()
    request = sent(idp)
    scheme, _, encoded = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    # RFC 6749 §2.3.1: both parts form-encoded, so ':' in the secret cannot split wrongly.
    assert (user, password) == ("kafka%20client", "fake%3Asecret%2Fwith%2Bodd%20chars%3D")
    assert (unquote_plus(user), unquote_plus(password)) == (CLIENT_ID, SECRET)
    assert form(request) == [("grant_type", "client_credentials")]


def test_client_secret_basic_without_form_encoding(idp: respx.MockRouter, clock: FakeClock) -> None:
    s = ClientSettings(
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=Secret(SECRET),
        basic_form_encode=False,
    )
    fetcher(s, clock).fetch()
    raw = base64.b64decode(sent(idp).headers["Authorization"].removeprefix("Basic "))
    assert raw.decode() == f"{CLIENT_ID}:{SECRET}"


def test_client_secret_post_puts_credentials_in_the_body(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    s = ClientSettings(
        token_url=TOKEN_URL,
        client_id=CLIENT_ID,
        client_secret=Secret(SECRET),
        auth_method="client_secret_post",
        scope="kafka",
    )
    fetcher(s, clock).fetch()
    request = sent(idp)
    assert "Authorization" not in request.headers
    assert form(request) == [
        ("grant_type", "client_credentials"),
        ("scope", "kafka"),
        ("client_id", CLIENT_ID),
        ("client_secret", SECRET),
    ]


def test_none_sends_only_the_client_id(idp: respx.MockRouter, clock: FakeClock) -> None:
    fetcher(ClientSettings(token_url=TOKEN_URL, client_id="public-app"), clock).fetch()
    request = sent(idp)
    assert "Authorization" not in request.headers
    assert form(request) == [("grant_type", "client_credentials"), ("client_id", "public-app")]


def _assertion_claims(
    request: httpx.Request, key: Any, alg: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    body = dict(form(request))
    assert body["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert body["client_id"] == "kafka"
    decoded = jwt.decode(body["client_assertion"], key, algorithms=[alg])  # verifies the signature
    return dict(decoded.header), dict(decoded.claims)


def _check_assertion_claims(claims: dict[str, Any], clock: FakeClock) -> None:
    assert claims["iss"] == claims["sub"] == "kafka"
    assert claims["aud"] == TOKEN_URL
    assert claims["iat"] == int(clock.now)
    assert 0 < claims["exp"] - claims["iat"] <= 60


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_private_key_jwt_signs_a_fresh_assertion_per_request(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path, alg: str
) -> None:
    key: RSAKey | ECKey = (
        ECKey.generate_key("P-256") if alg == "ES256" else RSAKey.generate_key(2048)
    )
    pem = tmp_path / "client.pem"
    pem.write_bytes(key.as_pem(private=True))
    s = ClientSettings(
        token_url=TOKEN_URL,
        client_id="kafka",
        private_key=FileSecret(pem),
        key_id="key-1",
        assertion_alg=alg,
    )
    f = fetcher(s, clock)
    f.fetch()
    clock.advance(5)
    f.fetch()
    public = type(key).import_key(key.as_dict(private=False))
    header1, first = _assertion_claims(sent(idp, 0), public, alg)
    _, second = _assertion_claims(sent(idp, 1), public, alg)
    assert header1["kid"] == "key-1"
    assert header1["alg"] == alg
    _check_assertion_claims(second, clock)
    assert first["jti"] != second["jti"]
    assert second["iat"] == first["iat"] + 5
    assert "Authorization" not in sent(idp).headers


@pytest.mark.parametrize(("curve", "alg"), [("P-256", "ES256"), ("P-384", "ES384")])
def test_private_key_jwt_without_an_alg_signs_with_the_one_its_key_implies(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path, curve: str, alg: str
) -> None:
    # An EC key with no alg set used to be taken for RS256 and refused as "not RSA".
    key = ECKey.generate_key(curve)
    pem = tmp_path / "client.pem"
    pem.write_bytes(key.as_pem(private=True))
    s = ClientSettings(token_url=TOKEN_URL, client_id="kafka", private_key=FileSecret(pem))
    assert s.assertion_alg == alg
    fetcher(s, clock).fetch()
    header, claims = _assertion_claims(sent(idp), ECKey.import_key(key.as_dict(private=False)), alg)
    assert header["alg"] == alg
    _check_assertion_claims(claims, clock)


@pytest.mark.parametrize(
    ("make_key", "alg", "says"),
    [
        (lambda: ECKey.generate_key("P-384"), "ES256", "is an EC key on P-384, which signs ES384"),
        (lambda: ECKey.generate_key("P-256"), "RS256", "is an EC key on P-256, which signs ES256"),
        (lambda: RSAKey.generate_key(2048), "ES256", "is an RSA key, which cannot sign ES256"),
    ],
)
def test_a_key_that_cannot_sign_the_alg_fails_at_start_up_naming_the_file(
    tmp_path: Path, make_key: Any, alg: str, says: str
) -> None:
    pem = tmp_path / "client.pem"
    pem.write_bytes(make_key().as_pem(private=True))
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE") as info:
        ClientSettings(
            token_url=TOKEN_URL, client_id="kafka", private_key=FileSecret(pem), assertion_alg=alg
        )
    assert says in str(info.value)


def test_a_key_file_rotated_to_another_curve_fails_the_fetch_naming_the_file(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    # Before, joserfc's InvalidKeyCurveError escaped the client's error tree: no backoff,
    # no count, a traceback in the log.
    pem = tmp_path / "client.pem"
    pem.write_bytes(ECKey.generate_key("P-256").as_pem(private=True))
    s = ClientSettings(token_url=TOKEN_URL, client_id="kafka", private_key=FileSecret(pem))
    f = fetcher(s, clock)
    f.fetch()
    pem.write_bytes(
        ECKey.generate_key("P-384").as_pem(
            private=True,
        )
        + b"\n"
    )
    os.utime(pem, (clock.now + 60, clock.now + 60))
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE"):
        f.fetch()


def test_client_secret_jwt_is_hmac_signed_with_the_secret(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    secret = "fake-hmac-secret-long-enough-for-hs256"
    s = ClientSettings(
        token_url=TOKEN_URL,
        client_id="kafka",
        client_secret=Secret(secret),
        auth_method="client_secret_jwt",
    )
    f = fetcher(s, clock)
    f.fetch()
    f.fetch()
    key = OctKey.import_key(secret.encode())
    _, first = _assertion_claims(sent(idp, 0), key, "HS256")
    _, second = _assertion_claims(sent(idp, 1), key, "HS256")
    _check_assertion_claims(second, clock)
    assert first["jti"] != second["jti"]
    assert secret not in sent(idp).content.decode()


# --- grants -----------------------------------------------------------------------------
def test_password_grant(idp: respx.MockRouter, clock: FakeClock) -> None:
    s = ClientSettings(
        token_url=TOKEN_URL,
        grant_type="password",
        username="alice",
        password=Secret("fake pass&word"),
        scope="kafka",
        authorization=Secret("Basic Y2xpZW50OnNlY3JldA=="),
    )
    fetcher(s, clock).fetch()
    assert form(sent(idp)) == [
        ("grant_type", "password"),
        ("username", "alice"),
        ("password", "fake pass&word"),
        ("scope", "kafka"),
    ]


def test_refresh_token_grant_follows_rotation_until_the_file_changes(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "refresh"
    path.write_text("refresh-from-file-1\n")
    s = ClientSettings(
        token_url=TOKEN_URL,
        grant_type="refresh_token",
        refresh_token=FileSecret(path),
        client_id="app",
    )
    idp.post(TOKEN_URL).mock(
        side_effect=[
            token_response("tok-1", refresh_token="rotated-2"),
            token_response("tok-2"),
            token_response("tok-3"),
        ]
    )
    f = fetcher(s, clock)
    f.fetch()
    f.fetch()
    path.write_text("refresh-from-operator-3-longer\n")
    f.fetch()
    tokens = [dict(form(call.request))["refresh_token"] for call in idp.calls]
    assert tokens == ["refresh-from-file-1", "rotated-2", "refresh-from-operator-3-longer"]
    assert form(sent(idp, 0)) == [
        ("grant_type", "refresh_token"),
        ("refresh_token", "refresh-from-file-1"),
        ("client_id", "app"),
    ]


def test_jwt_bearer_grant_reads_the_assertion_file_each_time(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "assertion.jwt"
    path.write_text("eyJ.first.sig\n")
    s = ClientSettings(
        token_url=TOKEN_URL,
        grant_type="jwt-bearer",
        assertion=FileSecret(path),
        scope="kafka",
        client_id="app",
        client_secret=Secret("fake-app-secret"),
    )
    f = fetcher(s, clock)
    f.fetch()
    path.write_text("eyJ.second-rotated.sig\n")
    f.fetch()
    # RFC 7523 §2.1
    assert form(sent(idp, 0)) == [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", "eyJ.first.sig"),
        ("scope", "kafka"),
    ]
    assert dict(form(sent(idp, 1)))["assertion"] == "eyJ.second-rotated.sig"
    assert sent(idp).headers["Authorization"].startswith("Basic ")


def test_token_exchange_with_subject_token_from_file(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    subject = tmp_path / "sa-token"
    subject.write_text("eyJhbGciOi.subject.sig\n")
    actor = tmp_path / "actor"
    actor.write_text("actor-token")
    s = ClientSettings(
        token_url=TOKEN_URL,
        grant_type="token-exchange",
        subject_token=FileSecret(subject),
        actor_token=FileSecret(actor),
        actor_token_type="urn:ietf:params:oauth:token-type:access_token",
        requested_token_type="urn:ietf:params:oauth:token-type:access_token",
        audience="kafka-cluster",
        resources=("https://kafka.example/",),
        scope="kafka",
        client_id="exchanger",
    )
    fetcher(s, clock).fetch()
    # RFC 8693 §2.1
    assert form(sent(idp)) == [
        ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
        ("subject_token", "eyJhbGciOi.subject.sig"),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ("actor_token", "actor-token"),
        ("actor_token_type", "urn:ietf:params:oauth:token-type:access_token"),
        ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"),
        ("scope", "kafka"),
        ("audience", "kafka-cluster"),
        ("resource", "https://kafka.example/"),
        ("client_id", "exchanger"),
    ]


def test_audience_resources_and_extra_params(idp: respx.MockRouter, clock: FakeClock) -> None:
    s = ClientSettings.from_env(
        {
            "OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL,
            "OAUTHBEARER_LOGIN_AUDIENCE": "urn:kafka",
            "OAUTHBEARER_LOGIN_RESOURCE": "https://a.example/,https://b.example/",
            "OAUTHBEARER_LOGIN_EXTRA_PARAMS": "tenant=blue&note=a%26b",
        }
    )
    fetcher(s, clock).fetch()
    assert form(sent(idp)) == [
        ("grant_type", "client_credentials"),
        ("audience", "urn:kafka"),
        ("resource", "https://a.example/"),  # RFC 8707 §2: one parameter per resource
        ("resource", "https://b.example/"),
        ("tenant", "blue"),
        ("note", "a&b"),
    ]


# --- rotation after invalid_client --------------------------------------------------------
def test_invalid_client_rereads_a_rotated_secret_file_and_retries_once(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "secret"
    path.write_text("old-secret-value")
    s = ClientSettings(
        token_url=TOKEN_URL,
        client_id="kafka",
        client_secret=FileSecret(path),
        auth_method="client_secret_post",
    )
    f = fetcher(s, clock)

    def answer(request: httpx.Request) -> httpx.Response:
        if dict(form(request))["client_secret"] == "new-secret-value":
            return token_response("fresh")
        return httpx.Response(401, json={"error": "invalid_client"})

    idp.post(TOKEN_URL).mock(side_effect=answer)
    with pytest.raises(TokenEndpointError):
        f.fetch()
    first = len(idp.calls)
    before = path.stat()
    path.write_text("new-secret-value")
    # Same size and the old mtime: the cheap stat check alone would miss this rotation.
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert f.fetch().access_token == "fresh"
    secrets = [dict(form(call.request))["client_secret"] for call in idp.calls]
    assert secrets == ["old-secret-value", "old-secret-value", "new-secret-value"]
    assert first == 1  # the failed attempt with an unchanged file was not repeated


def test_invalid_client_with_unchanged_secret_is_not_retried(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "secret"
    path.write_text("wrong-secret")
    s = ClientSettings(token_url=TOKEN_URL, client_id="kafka", client_secret=FileSecret(path))
    idp.post(TOKEN_URL).mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    with pytest.raises(TokenEndpointError) as info:
        fetcher(s, clock).fetch()
    assert info.value.error == "invalid_client"
    assert idp.calls.call_count == 1


# --- failures ---------------------------------------------------------------------------------
def test_oauth_error_response_is_carried_whole(idp: respx.MockRouter, clock: FakeClock) -> None:
    idp.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_scope", "error_description": "scope kafka is unknown"}
        )
    )
    with pytest.raises(TokenEndpointError) as info:
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()
    e = info.value
    assert (e.status, e.error, e.error_description) == (
        400,
        "invalid_scope",
        "scope kafka is unknown",
    )
    assert e.endpoint_host == "idp.example"
    assert not e.retryable
    assert e.retry_after is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        ("Tue, 14 Nov 2023 22:14:20 GMT", 20.0),
        ("garbage", None),
        ("\u00b2", None),  # "²": str.isdigit says yes, float() says no (was a ValueError)
    ],
)
def test_retry_after_seconds_or_http_date(
    idp: respx.MockRouter, clock: FakeClock, header: str, expected: float | None
) -> None:
    # START is 2023-11-14 22:13:20 UTC, so the date above is 60 s... minus the 40 below.
    clock.advance(40)
    idp.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            503, headers=[(b"Retry-After", header.encode("utf-8"))], text="busy"
        )
    )
    with pytest.raises(TokenEndpointError) as info:
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()
    assert info.value.retry_after == expected
    assert info.value.retryable
    assert info.value.error is None


def test_network_errors_become_token_request_errors(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    idp.post(TOKEN_URL).mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(TokenRequestError, match="ConnectError") as info:
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()
    # Not chained: the original's text is unredacted (h11 quotes bytes it received, an
    # echoed request body with the client secret among them); the type is in the message.
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert info.value.endpoint_host == "idp.example"


def test_a_server_echoing_the_request_leaks_no_secret_through_the_chain(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    echoed = "illegal status line: grant_type=client_credentials&client_secret=fake-s3cret-xyz"
    idp.post(TOKEN_URL).mock(side_effect=httpx.RemoteProtocolError(echoed))
    settings = ClientSettings(
        token_url=TOKEN_URL,
        client_id="app",
        client_secret=Secret("fake-s3cret-xyz"),
        auth_method="client_secret_post",
    )
    with pytest.raises(TokenRequestError) as info:
        fetcher(settings, clock).fetch()
    text = "".join(traceback.format_exception(info.value))
    assert "fake-s3cret-xyz" not in text
    assert "[redacted]" in str(info.value)


def test_timeouts_say_so_and_are_bounded(idp: respx.MockRouter, clock: FakeClock) -> None:
    seen: list[dict[str, float | None]] = []

    def slow(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        raise httpx.ReadTimeout("slow", request=request)

    idp.post(TOKEN_URL).mock(side_effect=slow)
    with pytest.raises(TokenRequestError, match="timed out after 2 s"):
        fetcher(ClientSettings(token_url=TOKEN_URL, timeout=5.0), clock).fetch(timeout=2.0)
    # Every phase may take what is left of the budget; the exchange's deadline caps the sum.
    assert seen[0] == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


def test_success_that_is_not_json_is_a_response_error(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    idp.post(TOKEN_URL).mock(return_value=httpx.Response(200, text="<html>login</html>"))
    with pytest.raises(TokenResponseError, match="not JSON"):
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()


def test_error_description_is_bounded_and_printable(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    idp.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            400, json={"error": "invalid_request", "error_description": "x\n" * 400}
        )
    )
    with pytest.raises(TokenEndpointError) as info:
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()
    description = info.value.error_description or ""
    assert len(description) <= 300
    assert "\n" not in description


def test_a_rotated_secret_file_is_used_on_the_next_request(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    # Kubernetes rewrites a mounted Secret in place: no restart, no invalid_client needed.
    path = tmp_path / "secret"
    path.write_text("first-secret\n")
    s = ClientSettings(
        token_url=TOKEN_URL,
        client_id="kafka",
        client_secret=FileSecret(path),
        auth_method="client_secret_post",
    )
    f = fetcher(s, clock)
    f.fetch()
    path.write_text("second-secret-rotated\n")
    f.fetch()
    secrets = [dict(form(call.request))["client_secret"] for call in idp.calls]
    assert secrets == ["first-secret", "second-secret-rotated"]


def test_a_server_echoing_the_request_never_puts_a_secret_in_the_error(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    secret = "fake s3cret+value/x"
    basic_credentials = base64.b64encode(b"kafka:fake%20s3cret%2Bvalue%2Fx").decode()
    echo = (
        f"cannot parse body client_secret={quote_plus(secret)} raw {secret} "
        f"header Basic {basic_credentials}"
    )
    idp.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            400, json={"error": f"invalid_request {secret}", "error_description": echo}
        )
    )
    settings = ClientSettings(token_url=TOKEN_URL, client_id="kafka", client_secret=Secret(secret))
    with pytest.raises(TokenEndpointError) as info:
        fetcher(settings, clock).fetch()
    said = f"{info.value} {info.value.error} {info.value.error_description}"
    for spelling in (secret, quote_plus(secret), basic_credentials):
        assert spelling not in said, spelling
    assert "cannot parse body client_secret=[redacted]" in said


def test_a_request_the_http_library_refuses_to_write_is_described_without_it(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    # httpx quotes the offending request (header values included) in this exception.
    leak = "Illegal header value b'Basic ZmFrZS1pZDpmYWtlLXNlY3JldA=='"
    idp.post(TOKEN_URL).mock(side_effect=httpx.LocalProtocolError(leak))
    with pytest.raises(TokenRequestError) as info:
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()
    assert "ZmFrZS1pZDpmYWtlLXNlY3JldA" not in str(info.value)
    assert info.value.__cause__ is None
    assert "could not be written" in str(info.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        # GNU base64 wraps at 76 characters: long credentials hold a line break.
        ("Basic " + "QUJD" * 19 + "\n" + "QUJD", "line break"),
        ("Basic\u00a0ZmFrZQ==", "not printable ASCII"),  # a copied non-breaking space
    ],
)
def test_an_authorization_header_http_cannot_carry_is_refused_naming_the_variable(
    value: str, problem: str, tmp_path: Path, idp: respx.MockRouter, clock: FakeClock
) -> None:
    from oauthbearer.client.environment import settings_from_env
    from oauthbearer.errors import ConfigurationError

    environ = {"OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL, "OAUTH_AUTHORIZATION": value}
    with pytest.raises(ConfigurationError, match=f"^OAUTH_AUTHORIZATION: holds .*{problem}") as at:
        settings_from_env(environ)
    assert value not in str(at.value)
    # From a file that turns bad after start-up (a rotation): refused per request, no call.
    path = tmp_path / "authorization"
    path.write_text("Basic ZmFrZQ==\n")
    s = ClientSettings(token_url=TOKEN_URL, authorization=FileSecret(path, "OAUTH_AUTHORIZATION"))
    f = fetcher(s, clock)
    f.fetch()
    path.write_text(value + "\n")
    with pytest.raises(ConfigurationError, match=problem):
        f.fetch()
    assert len(idp.calls) == 1


def test_a_client_secret_beside_a_verbatim_header_is_refused_not_ignored() -> None:
    from oauthbearer.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_CLIENT_SECRET: is not used"):
        ClientSettings(
            token_url=TOKEN_URL,
            client_id="kafka",
            authorization=Secret("Basic ZmFrZQ=="),
            client_secret=Secret("fake-ignored-secret"),
        )


@pytest.mark.parametrize(
    "body", [b'{"error":' + b"[" * 100_000 + b"}", b'{"error":"x","n":' + b"9" * 5000 + b"}"]
)
def test_an_error_body_json_cannot_read_is_still_the_endpoints_refusal(
    idp: respx.MockRouter, clock: FakeClock, body: bytes
) -> None:
    idp.post(TOKEN_URL).mock(return_value=httpx.Response(400, content=body))
    with pytest.raises(TokenEndpointError) as info:
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()
    assert info.value.status == 400
    assert info.value.error is None


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        # Spring Security and many gateways: {"message": ...}, no RFC 6749 "error".
        (httpx.Response(401, json={"message": "Bad credentials"}), "Bad credentials"),
        (httpx.Response(400, json={"title": "Bad Request", "detail": "scope?"}), "scope?"),
        # A proxy's page: its first words, whitespace folded.
        (
            httpx.Response(400, text="<html>\n <body>Request   Header Too Large</body></html>"),
            "<html> <body>Request Header Too Large</body></html>",
        ),
    ],
)
def test_why_a_server_refused_is_said_even_without_rfc_6749_fields(
    idp: respx.MockRouter, clock: FakeClock, answer: httpx.Response, said: str
) -> None:
    # Only "HTTP 401" was left of these: the cause was hidden.
    idp.post(TOKEN_URL).mock(return_value=answer)
    with pytest.raises(TokenEndpointError) as info:
        fetcher(ClientSettings(token_url=TOKEN_URL), clock).fetch()
    assert info.value.error_description == said
    assert said in str(info.value)


def test_an_error_page_echoing_the_secret_is_redacted(
    idp: respx.MockRouter, clock: FakeClock
) -> None:
    secret = "fake-page-s3cret"
    page = f"<html>400: could not read client_secret={secret}</html>"
    idp.post(TOKEN_URL).mock(return_value=httpx.Response(400, text=page))
    settings = ClientSettings(token_url=TOKEN_URL, client_id="kafka", client_secret=Secret(secret))
    with pytest.raises(TokenEndpointError) as info:
        fetcher(settings, clock).fetch()
    assert secret not in str(info.value)
    assert "client_secret=[redacted]" in str(info.value)
