"""A stepped wall clock (NTP, a resumed VM) moves neither backoff nor the refresh schedule.

Backoff, refresh points and deadlines run on the monotonic clock; the wall clock only
gives the expiry handed to Kafka. ``FakeClock.step`` moves the wall clock alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx

from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import TokenEndpointError

from .conftest import START, TOKEN_URL, FakeClock, ProviderFactory, token_response

HOUR = 3600.0
# token_response() lasts 300 s: 270 s after the skew margin, refresh due at 216 s.
LIFETIME = 270.0
REFRESH_DUE = 216.0


@pytest.fixture
def idp() -> Iterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.post(TOKEN_URL).mock(return_value=token_response("first"))


def test_a_backwards_step_during_backoff_does_not_stop_fetching(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    idp.mock(return_value=httpx.Response(503))
    p = make_provider(ClientSettings(token_url=TOKEN_URL, deadline=1.0))
    with pytest.raises(TokenEndpointError):
        p.token()
    failed = idp.call_count
    clock.step(-HOUR)  # the host's clock goes back an hour; the server is back
    idp.mock(return_value=token_response("after-the-step"))
    assert p.token().access_token == "after-the-step"
    assert idp.call_count == failed + 1
    assert sum(clock.sleeps) < 2.0  # waited out the backoff, not the hour


def test_a_backwards_step_does_not_postpone_the_refresh(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    p = make_provider()
    first = p.token()
    clock.step(-HOUR)
    clock.advance(REFRESH_DUE + 1)
    idp.mock(return_value=token_response("refreshed"))
    assert p.token().access_token == "refreshed"
    assert p.current() is not None
    assert first.expires_at == START + LIFETIME  # expiries stay wall-clock epoch seconds


def test_a_token_is_not_handed_out_past_its_lifetime_after_a_backwards_step(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    p = make_provider(ClientSettings(token_url=TOKEN_URL, deadline=1.0))
    p.token()
    clock.step(-HOUR)  # by the wall clock the token now has an hour and more to go
    idp.mock(return_value=httpx.Response(503))
    clock.advance(LIFETIME + 1)  # but it has lived its whole lifetime
    with pytest.raises(TokenEndpointError):
        p.token()
    assert p.current() is None


def test_a_forward_step_past_the_expiry_fetches_a_token_kafka_accepts(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    p = make_provider()
    p.token()
    clock.step(HOUR)  # the expiry we would hand to librdkafka is in the past now
    idp.mock(return_value=token_response("second"))
    token = p.token()
    assert token.access_token == "second"
    assert token.expires_at > clock()
