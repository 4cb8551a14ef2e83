"""The client half against the real authorization server (npm oidc-provider on loopback).

Each test uses a private TokenCache unless it is about the process-wide one, so tests do
not hand each other tokens.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import confluent_kafka
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from oauthbearer import oauth_cb
from oauthbearer.client.confluent import default_provider, reset_default_provider
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.provider import SHARED_CACHE, TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.token import Token
from oauthbearer.errors import TokenEndpointError
from tests.support.idp import JWT_RESOURCE, OPAQUE_RESOURCE, SCOPE, Idp

pytestmark = pytest.mark.integration


def _env(idp: Idp, name: str, **extra: str) -> dict[str, str]:
    client = idp.clients[name]
    env = {
        "OAUTHBEARER_LOGIN_TOKEN_URL": idp.token_url,
        "OAUTHBEARER_LOGIN_CLIENT_ID": client.client_id,
        "OAUTH_LOGIN_SCOPE": SCOPE,
        **extra,
    }
    if client.client_secret is not None:
        env["OAUTHBEARER_LOGIN_CLIENT_SECRET"] = client.client_secret
    return env


def _provider(env: dict[str, str]) -> TokenProvider:
    return TokenProvider.from_env(env, cache=TokenCache())


def _verified_claims(idp: Idp, token: Token) -> dict[str, object]:
    keys = KeySet.import_key_set(httpx.get(idp.jwks_url, timeout=5).json())
    decoded = jwt.decode(token.access_token, keys)
    return dict(decoded.claims)


def _check_jwt(idp: Idp, provider: TokenProvider, token: Token, client_id: str) -> None:
    claims = _verified_claims(idp, token)
    assert claims["sub"] == client_id
    assert claims["aud"] == JWT_RESOURCE
    assert claims["iss"] == idp.issuer
    assert provider.principal(token) == client_id
    assert token.scope == SCOPE
    # 300 s lifetime minus the 30 s skew margin, and never later than the JWT's exp.
    exp = claims["exp"]
    assert isinstance(exp, int)
    assert token.expires_at <= exp
    assert time.time() + 240 < token.expires_at <= time.time() + 271


def test_client_secret_basic_with_a_secret_that_needs_form_encoding(idp: Idp) -> None:
    client = idp.clients["basic"]
    assert any(c in (client.client_secret or "") for c in "+/: =")  # the point of this client
    with _provider(_env(idp, "basic")) as provider:
        assert provider.settings.auth_method == "client_secret_basic"
        token = provider.token()
        _check_jwt(idp, provider, token, client.client_id)


def test_client_secret_basic_without_form_encoding_is_refused_by_a_compliant_server(
    idp: Idp,
) -> None:
    env = _env(idp, "basic", OAUTHBEARER_LOGIN_BASIC_FORM_ENCODE="false")
    with _provider(env) as provider, pytest.raises(TokenEndpointError) as info:
        provider.token()
    assert info.value.status == 401
    assert info.value.error == "invalid_client"


def test_jairsjunior_environment_block(idp: Idp) -> None:
    with _provider(idp.env_for("basic")) as provider:
        assert provider.settings.auth_method == "authorization_header"
        token = provider.token()
        _check_jwt(idp, provider, token, idp.clients["basic"].client_id)


def test_client_secret_post(idp: Idp) -> None:
    env = _env(idp, "post", OAUTHBEARER_LOGIN_AUTH_METHOD="client_secret_post")
    with _provider(env) as provider:
        token = provider.token()
        _check_jwt(idp, provider, token, idp.clients["post"].client_id)


def test_private_key_jwt_twice_with_fresh_assertions(idp: Idp, tmp_path: Path) -> None:
    client = idp.clients["pkjwt"]
    assert client.private_key_pem is not None
    key = tmp_path / "pkjwt.pem"
    key.write_text(client.private_key_pem)
    env = _env(
        idp,
        "pkjwt",
        OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE=str(key),
        OAUTHBEARER_LOGIN_KEY_ID="pkjwt-test-key",
    )
    settings = ClientSettings.from_env(env)
    assert settings.auth_method == "private_key_jwt"
    with TokenProvider(settings, cache=TokenCache()) as provider:
        _check_jwt(idp, provider, provider.token(), client.client_id)
    # A second request in the same second: the server refuses a replayed jti, so this
    # only passes because every request carries a new assertion.
    fetcher = TokenFetcher(settings)
    try:
        first, second = fetcher.fetch(), fetcher.fetch()
    finally:
        fetcher.close()
    assert first.access_token != second.access_token


def test_client_secret_jwt(idp: Idp) -> None:
    env = _env(idp, "secretjwt", OAUTHBEARER_LOGIN_AUTH_METHOD="client_secret_jwt")
    with _provider(env) as provider:
        _check_jwt(idp, provider, provider.token(), idp.clients["secretjwt"].client_id)


def test_discovery_from_the_issuer(idp: Idp) -> None:
    env = _env(idp, "post", OAUTHBEARER_LOGIN_AUTH_METHOD="client_secret_post")
    del env["OAUTHBEARER_LOGIN_TOKEN_URL"]
    env["OAUTHBEARER_LOGIN_ISSUER"] = idp.issuer
    with _provider(env) as provider:
        assert provider.settings.token_url is None
        _check_jwt(idp, provider, provider.token(), idp.clients["post"].client_id)


def test_opaque_tokens_work_with_expires_in_and_client_id_principal(idp: Idp) -> None:
    client = idp.clients["opaque"]
    env = _env(idp, "opaque", OAUTHBEARER_LOGIN_RESOURCE=OPAQUE_RESOURCE)
    with _provider(env) as provider:
        token = provider.token()
        assert token.claims == {}
        assert "." not in token.access_token
        assert provider.principal(token) == client.client_id
        assert time.time() + 240 < token.expires_at <= time.time() + 271
    assert idp.introspect(token.access_token)["active"] is True


def test_wrong_secret_is_reported_as_invalid_client(idp: Idp) -> None:
    env = _env(idp, "post", OAUTHBEARER_LOGIN_AUTH_METHOD="client_secret_post")
    env["OAUTHBEARER_LOGIN_CLIENT_SECRET"] = "fake-but-wrong"
    with _provider(env) as provider, pytest.raises(TokenEndpointError) as info:
        provider.token()
    assert (info.value.status, info.value.error) == (401, "invalid_client")


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_confluent_producer_gets_its_token_within_the_constructor_wait(
    idp: Idp, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith(("OAUTH_", "OAUTHBEARER_")):
            monkeypatch.delenv(name)
    for name, value in idp.env_for("basic").items():
        monkeypatch.setenv(name, value)
    reset_default_provider()
    SHARED_CACHE.clear()
    try:
        provider = default_provider()  # built from the environment; no I/O yet
        before = provider.fetch_count
        started = time.monotonic()
        producer = confluent_kafka.Producer(
            {
                "bootstrap.servers": f"127.0.0.1:{_unused_port()}",
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanisms": "OAUTHBEARER",
                "oauth_cb": oauth_cb,  # the env-configured one users import
            }
        )
        elapsed = time.monotonic() - started
        assert default_provider() is provider
        assert provider.fetch_count == before + 1  # exactly one fetch, inside the constructor
        assert elapsed < 5.0, f"constructor took {elapsed:.1f} s"
        token = provider.current()
        assert token is not None
        assert provider.principal(token) == idp.clients["basic"].client_id
        assert producer.flush(0) == 0
    finally:
        reset_default_provider()
        SHARED_CACHE.clear()


def test_a_platform_written_client_assertion_file(idp: Idp, tmp_path: Path) -> None:
    """The shape a federated credential takes (a Kubernetes projected token, Azure's
    federated token): a JWT signed by a key the authorization server knows from the
    client's jwks, written to a file by someone else and rotated. oidc-provider accepts it
    as private_key_jwt; each fetch needs a fresh one (it refuses a replayed jti), so the
    second succeeds only because the rotated file is read again."""
    client = idp.clients["pkjwt"]
    assertion = tmp_path / "client-assertion.jwt"
    assertion.write_text(idp.client_assertion(client))
    env = {
        "OAUTHBEARER_LOGIN_TOKEN_URL": idp.token_url,
        "OAUTHBEARER_LOGIN_CLIENT_ID": client.client_id,
        "OAUTHBEARER_LOGIN_CLIENT_ASSERTION_FILE": str(assertion),
        "OAUTH_LOGIN_SCOPE": SCOPE,
    }
    settings = ClientSettings.from_env(env)
    assert settings.auth_method == "client_assertion"
    fetcher = TokenFetcher(settings)
    try:
        first = fetcher.fetch()
        assertion.write_text(idp.client_assertion(client) + "\n")  # the platform rotates it
        second = fetcher.fetch()
    finally:
        fetcher.close()
    assert first.access_token != second.access_token
