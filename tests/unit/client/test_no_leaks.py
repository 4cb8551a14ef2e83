"""A known secret and a known token never appear in logs, reprs or exception messages."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from oauthbearer._secret import FileSecret, Secret
from oauthbearer.client.confluent import make_oauth_cb
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import OAuthBearerError

from .conftest import TOKEN_URL, FakeClock, ProviderFactory, token_response

SECRET = "S3CRET-never-show-me"
TOKEN = "TOKEN-never-show-me"
PASSWORD = "PASSWORD-never-show-me"


def _forbidden() -> list[str]:
    basic = base64.b64encode(f"kafka:{SECRET}".encode()).decode()
    return [SECRET, TOKEN, PASSWORD, basic]


def _assert_clean(text: str) -> None:
    for needle in _forbidden():
        assert needle not in text, f"leaked {needle[:6]}…"


@respx.mock
def test_nothing_secret_in_logs_reprs_or_errors(
    clock: FakeClock,
    make_provider: ProviderFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    settings = ClientSettings(
        token_url=TOKEN_URL,
        client_id="kafka",
        client_secret=FileSecret(secret_file),
        grant_type="password",
        username="alice",
        password=Secret(PASSWORD),
    )
    route = respx.post(TOKEN_URL).mock(return_value=token_response(TOKEN, refresh_token=TOKEN))
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    provider = make_provider(settings)
    cb = make_oauth_cb(provider)
    token = provider.token()
    assert cb(None)[0] == TOKEN  # the token does reach librdkafka...

    texts = [repr(settings), str(settings), repr(provider), repr(token), str(token)]
    texts.append(repr(settings.client_secret) + repr(settings.password))

    # ...and failures of every kind stay clean too.
    failures = [
        httpx.Response(401, json={"error": "invalid_client", "error_description": "bad secret"}),
        httpx.Response(500, text="upstream crashed"),
        httpx.Response(200, json={"access_token": TOKEN, "expires_in": -1}),
        httpx.Response(200, json={"access_token": TOKEN, "expires_in": 10**9}),
        httpx.Response(200, json={"access_token": TOKEN + " x", "expires_in": 60}),
    ]
    for failure in failures:
        provider_for_failure = make_provider(
            ClientSettings(
                token_url=TOKEN_URL,
                client_id="kafka",
                client_secret=Secret(SECRET),
                scope=f"case{len(texts)}",  # a distinct identity: no cached token
            )
        )
        route.mock(return_value=failure)
        with pytest.raises(OAuthBearerError) as info:
            make_oauth_cb(provider_for_failure)(None)
        texts += [str(info.value), repr(info.value)]

    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(OAuthBearerError) as info:
        make_provider(
            ClientSettings(token_url=TOKEN_URL, authorization=Secret("Basic " + SECRET))
        ).token()
    texts.append(str(info.value))

    assert any("invalid_client" in t for t in texts)  # the cases really ran
    for text in [*texts, caplog.text]:
        _assert_clean(text)
    for record in caplog.records:
        _assert_clean(repr(record.__dict__))


def _echo_body(request: httpx.Request) -> httpx.Response:
    """A server that quotes the request it refuses (some do, in error_description)."""
    said = f"cannot parse {request.content.decode()}"
    return httpx.Response(400, json={"error": "invalid_request", "error_description": said})


@respx.mock
def test_a_rotated_refresh_token_is_redacted_from_an_echoed_refusal(
    clock: FakeClock, make_provider: ProviderFactory
) -> None:
    # The rotated token exists only in memory: redacting the configured secrets missed it.
    rotated = "ROTATED-refresh-token-never-show"
    route = respx.post(TOKEN_URL).mock(
        return_value=token_response(TOKEN, expires_in=60, refresh_token=rotated)
    )
    settings = ClientSettings(
        token_url=TOKEN_URL,
        grant_type="refresh_token",
        refresh_token=Secret("configured-refresh-token"),
        client_id="kafka",
        client_secret=Secret(SECRET),
        auth_method="client_secret_post",
    )
    provider = make_provider(settings)
    assert provider.token().access_token == TOKEN
    route.mock(side_effect=_echo_body)
    clock.advance(120)  # the token expired: the next call must fetch with the rotated one
    with pytest.raises(OAuthBearerError) as info:
        provider.token()
    sent = route.calls.last.request.content.decode()
    assert f"refresh_token={rotated}" in sent  # it really was in the echoed request
    assert "cannot parse" in str(info.value)
    assert rotated not in str(info.value)
    assert "refresh_token=[redacted]" in str(info.value)


@respx.mock
def test_a_minted_client_assertion_is_redacted_from_an_echoed_refusal(
    make_provider: ProviderFactory, tmp_path: Path
) -> None:
    from joserfc.jwk import RSAKey

    key = tmp_path / "key.pem"
    key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    route = respx.post(TOKEN_URL).mock(side_effect=_echo_body)
    settings = ClientSettings(token_url=TOKEN_URL, client_id="kafka", private_key=FileSecret(key))
    with pytest.raises(OAuthBearerError) as info:
        make_provider(settings).token()
    assertion = parse_qs(route.calls.last.request.content.decode())["client_assertion"][0]
    assert "cannot parse" in str(info.value)
    assert assertion not in str(info.value)
    assert "client_assertion=[redacted]" in str(info.value)
