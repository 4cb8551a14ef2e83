"""Metrics hook calls and the prometheus-client adapter."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from prometheus_client import CollectorRegistry

from oauthbearer.client.metrics import PrometheusMetrics
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import ConfigurationError, TokenError

from .conftest import TOKEN_URL, FakeClock, ProviderFactory, token_response


class Recorder:
    def __init__(self) -> None:
        self.fetches: list[tuple[str, float]] = []
        self.expiries: list[float] = []

    def fetch_finished(self, *, outcome: str, seconds: float) -> None:
        self.fetches.append((outcome, seconds))

    def token_updated(self, *, expires_at: float) -> None:
        self.expiries.append(expires_at)


@respx.mock
def test_hook_sees_every_attempt_and_token(
    clock: FakeClock, make_provider: ProviderFactory
) -> None:
    respx.post(TOKEN_URL).mock(
        side_effect=[httpx.ConnectError("down"), httpx.Response(503), token_response()]
    )
    hook = Recorder()
    token = make_provider(metrics=hook).token()
    assert [outcome for outcome, _ in hook.fetches] == ["network", "unavailable", "ok"]
    assert all(seconds >= 0 for _, seconds in hook.fetches)
    assert hook.expiries == [token.expires_at]
    assert token.expires_at == clock() + 270  # issued after the (fake) backoff sleeps


@respx.mock
def test_rejections_and_bad_responses_have_their_own_outcomes(
    clock: FakeClock, make_provider: ProviderFactory
) -> None:
    hook = Recorder()
    route = respx.post(TOKEN_URL)
    provider = make_provider(ClientSettings(token_url=TOKEN_URL), metrics=hook)
    for response in (httpx.Response(401), httpx.Response(200, text="nope")):
        route.mock(return_value=response)
        with pytest.raises(TokenError):
            provider.token()
        clock.advance(61)  # past any backoff
    assert [o for o, _ in hook.fetches] == ["rejected", "invalid_response"]
    assert hook.expiries == []


@respx.mock
def test_prometheus_adapter(clock: FakeClock, make_provider: ProviderFactory) -> None:
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry=registry, clock=clock)
    respx.post(TOKEN_URL).mock(side_effect=[httpx.Response(503), token_response()])
    token = make_provider(metrics=metrics).token()

    def sample(name: str, **labels: Any) -> float | None:
        value: float | None = registry.get_sample_value(name, labels)
        return value

    assert sample("oauthbearer_client_fetches_total", outcome="ok") == 1.0
    assert sample("oauthbearer_client_fetches_total", outcome="unavailable") == 1.0
    assert sample("oauthbearer_client_fetches_total", outcome="network") == 0.0
    assert sample("oauthbearer_client_fetch_duration_seconds_count") == 2.0
    assert sample("oauthbearer_client_token_expiry_seconds") == 270.0
    clock.advance(100)
    assert sample("oauthbearer_client_token_expiry_seconds") == 170.0
    clock.now = token.expires_at + 5
    assert sample("oauthbearer_client_token_expiry_seconds") == 0.0


def test_a_second_instance_on_one_registry_says_what_to_do() -> None:
    registry = CollectorRegistry()
    PrometheusMetrics(registry=registry)
    with pytest.raises(ConfigurationError, match="pass the one instance to every provider"):
        PrometheusMetrics(registry=registry)
    PrometheusMetrics(registry=registry, namespace="other_client")  # its own names: fine
