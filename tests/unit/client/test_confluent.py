"""confluent-kafka adapter: the frozen oauth_cb contract, tuple shape, and failure logging."""

from __future__ import annotations

import inspect
import logging
import os
import time
from collections.abc import Iterator

import confluent_kafka
import httpx
import pytest
import respx

from oauthbearer.client.confluent import make_oauth_cb, oauth_cb, reset_default_provider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import ConfigurationError, TokenEndpointError

from .conftest import START, TOKEN_URL, FakeClock, ProviderFactory, make_jwt, token_response

ENV = {
    "OAUTH_LOGIN_SERVER": "idp.example",
    "OAUTH_LOGIN_ENDPOINT": "/oauth2/token",
    "OAUTH_LOGIN_SCOPE": "kafka",
    "OAUTH_AUTHORIZATION": "Basic a2Fma2E6ZmFrZS1zZWNyZXQ=",
    "OAUTHBEARER_LOGIN_SASL_EXTENSIONS": "logicalCluster=lkc-abc123,identityPoolId=pool-XyZ",
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OAUTH_", "OAUTHBEARER_")):
            monkeypatch.delenv(name)
    reset_default_provider()
    yield
    reset_default_provider()


def _assert_frozen_signature(cb: object) -> None:
    signature = inspect.signature(cb)  # type: ignore[arg-type]
    params = list(signature.parameters.values())
    assert len(params) == 1
    (param,) = params
    assert param.name == "oauthbearer_config"
    assert param.kind is inspect.Parameter.POSITIONAL_ONLY
    assert param.default is inspect.Parameter.empty


def test_oauth_cb_signature_is_frozen() -> None:
    # CONTRACT §6: librdkafka calls oauth_cb with exactly one positional argument.
    _assert_frozen_signature(oauth_cb)


def test_make_oauth_cb_returns_the_same_signature(make_provider: ProviderFactory) -> None:
    _assert_frozen_signature(make_oauth_cb(make_provider()))


@respx.mock
def test_exact_four_tuple(clock: FakeClock, make_provider: ProviderFactory) -> None:
    jwt = make_jwt({"sub": "svc-orders", "exp": int(START) + 600})
    respx.post(TOKEN_URL).mock(return_value=token_response(jwt, expires_in=900))
    settings = ClientSettings(
        token_url=TOKEN_URL,
        sasl_extensions=(("logicalCluster", "lkc-1"), ("identityPoolId", "pool-2")),
    )
    result = make_oauth_cb(make_provider(settings))("principalClaimName=ignored")
    assert type(result) is tuple
    assert len(result) == 4
    token, expiry, principal, extensions = result
    assert token == jwt
    assert type(expiry) is float
    assert expiry == START + 600 - 30  # JWT exp (earlier than expires_in) minus skew
    assert expiry > clock()  # librdkafka refuses an expiry in the past
    assert principal == "svc-orders"
    assert extensions == {"logicalCluster": "lkc-1", "identityPoolId": "pool-2"}
    assert type(extensions) is dict


@respx.mock
def test_oauth_cb_reads_the_environment_on_first_call_only(
    environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    route = respx.post(TOKEN_URL).mock(return_value=token_response("env-token"))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    token, expiry, principal, extensions = oauth_cb(None)
    assert token == "env-token"
    assert expiry > time.time()
    assert principal == "unknown"  # opaque token, no client id configured
    assert extensions == {"logicalCluster": "lkc-abc123", "identityPoolId": "pool-XyZ"}
    request = route.calls.last.request
    assert request.headers["Authorization"] == ENV["OAUTH_AUTHORIZATION"]
    monkeypatch.setenv("OAUTH_LOGIN_SERVER", "elsewhere.example")  # too late: built once
    assert oauth_cb(None)[0] == "env-token"
    assert route.call_count == 1


def test_misconfiguration_is_logged_then_raised(
    environment: None, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConfigurationError, match=r"^OAUTH_LOGIN_SERVER"):
        oauth_cb(None)
    assert "OAUTH_LOGIN_SERVER: is required" in caplog.text
    assert caplog.records[-1].levelno == logging.ERROR


@respx.mock
def test_real_cause_is_logged_before_raising(
    make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(
            401,
            json={"error": "invalid_client", "error_description": "client authentication failed"},
        )
    )
    cb = make_oauth_cb(make_provider())
    with (
        caplog.at_level(logging.ERROR, logger="oauthbearer.client"),
        pytest.raises(TokenEndpointError),
    ):
        cb(None)
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    message = record.getMessage()
    for part in (
        "oauth_cb",
        "idp.example",
        "HTTP 401",
        "invalid_client",
        "client authentication failed",
    ):
        assert part in message
    assert record.status == 401  # type: ignore[attr-defined]
    assert record.oauth_error == "invalid_client"  # type: ignore[attr-defined]
    assert record.endpoint_host == "idp.example"  # type: ignore[attr-defined]
    assert record.exc_info is None  # the message is the diagnosis; no traceback noise


@respx.mock
def test_a_real_producer_accepts_the_callback(make_provider: ProviderFactory) -> None:
    route = respx.post(TOKEN_URL).mock(
        return_value=token_response("producer-token", expires_in=3600)
    )
    provider = make_provider(clock=time.time, sleep=time.sleep)
    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": "127.0.0.1:9",  # nothing listens; the token comes first
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "OAUTHBEARER",
            "oauth_cb": make_oauth_cb(provider),
            "socket.connection.setup.timeout.ms": 1000,
        }
    )
    try:
        assert route.call_count == 1  # the constructor waited for our token, and got it
    finally:
        producer.flush(0)


@respx.mock
def test_librdkafkas_own_refresh_call_gets_a_new_token_whatever_the_jitter(
    clock: FakeClock, make_provider: ProviderFactory
) -> None:
    # librdkafka calls oauth_cb again at 80 % of the lifetime it was told. A refresh point
    # drawn late in the 80 % ± 5 % window (here 84.5 %) must not hand the old token back:
    # librdkafka would then ask only at 96 %, a few seconds before the end.
    respx.post(TOKEN_URL).mock(
        side_effect=[token_response("fake-first"), token_response("fake-second")]
    )
    provider = make_provider(random=lambda: 0.95)
    cb = make_oauth_cb(provider)
    token, expiry, _principal, _extensions = cb(None)
    assert token == "fake-first"
    clock.now = START + 0.8 * (expiry - START)  # librdkafka's scheduled call
    assert provider.token().access_token == "fake-first"  # not yet due by our own draw
    assert cb(None)[0] == "fake-second"
    assert len(respx.calls) == 2


@pytest.mark.parametrize(("draw", "refresh_fraction"), [(0.0, 0.75), (0.25, 0.775), (0.5, 0.8)])
@respx.mock
def test_librdkafka_is_told_an_expiry_that_makes_it_ask_at_the_jittered_point(
    clock: FakeClock, make_provider: ProviderFactory, draw: float, refresh_fraction: float
) -> None:
    # librdkafka asks again at 80 % of the lifetime it is told, without jitter: told the
    # plain expiry, every process refreshed at exactly 80 %, in lock-step.
    respx.post(TOKEN_URL).mock(return_value=token_response("t", expires_in=1000))
    provider = make_provider(random=lambda: draw)
    _, expiry, _, _ = make_oauth_cb(provider)(None)
    token = provider.token()
    librdkafka_asks_in = 0.8 * (expiry - clock.now)
    # The lifetime the schedule is drawn on is the one usable here: 1000 s less the
    # clock-skew margin (30 s).
    assert librdkafka_asks_in == pytest.approx(token.lifetime * refresh_fraction, abs=0.01)
    assert expiry <= token.expires_at


@respx.mock
def test_librdkafka_is_told_the_real_time_left_after_the_wall_clock_stepped_back(
    clock: FakeClock, make_provider: ProviderFactory
) -> None:
    respx.post(TOKEN_URL).mock(return_value=token_response("t", expires_in=300))
    cb = make_oauth_cb(make_provider())
    cb(None)
    clock.advance(10)
    clock.step(-3600)  # NTP, or a resumed VM: the wall clock an hour back
    _, expiry, _, _ = cb(None)
    assert expiry - clock.now <= 300 - 10  # not 3,890 s: the token has 290 s at most
