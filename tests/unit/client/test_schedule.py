"""The provider's timing rules on their own: refresh point, backoff, what is retried."""

from __future__ import annotations

import pytest

from oauthbearer.client.schedule import MAX_RETRY_AFTER, backoff, refresh_at, retryable
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import (
    OAuthBearerError,
    TokenEndpointError,
    TokenRequestError,
    TokenResponseError,
)

SETTINGS = ClientSettings(token_url="https://idp.example/token")  # 0.8 ± 0.05, 0.5 s .. 60 s
OUTAGE = TokenRequestError("idp.example", "connection refused")


@pytest.mark.parametrize(("draw", "fraction"), [(0.0, 0.75), (0.5, 0.8), (0.999999, 0.85)])
def test_refresh_point_spans_the_jitter_around_the_fraction(draw: float, fraction: float) -> None:
    at = refresh_at(SETTINGS, issued_at=1000.0, lifetime=600.0, draw=draw)
    assert at == pytest.approx(1000.0 + 600.0 * fraction, abs=1e-3)


def test_backoff_doubles_up_to_its_cap_with_full_jitter() -> None:
    ceilings = [backoff(SETTINGS, failures=n, exc=OUTAGE, draw=0.999999) for n in range(1, 10)]
    assert ceilings[:4] == pytest.approx([0.5, 1.0, 2.0, 4.0], rel=1e-5)
    assert max(ceilings) == pytest.approx(60.0, rel=1e-5)
    assert backoff(SETTINGS, failures=5, exc=OUTAGE, draw=0.0) == 0.0


def test_backoff_after_weeks_of_failures_does_not_overflow() -> None:
    assert backoff(SETTINGS, failures=10**9, exc=OUTAGE, draw=0.5) == 30.0


def test_retry_after_is_honoured_and_bounded() -> None:
    busy = TokenEndpointError("idp.example", 429, retry_after=120.0)
    assert backoff(SETTINGS, failures=1, exc=busy, draw=0.5) == 120.0
    buggy = TokenEndpointError("idp.example", 503, retry_after=1e12)
    assert backoff(SETTINGS, failures=1, exc=buggy, draw=0.5) == MAX_RETRY_AFTER


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OUTAGE, True),
        (TokenEndpointError("idp.example", 503), True),
        (TokenEndpointError("idp.example", 429), True),
        (TokenEndpointError("idp.example", 401, error="invalid_client"), False),
        (TokenEndpointError("idp.example", 400, error="invalid_scope"), False),
        (TokenResponseError("token response has no access_token"), False),
    ],
)
def test_only_transient_failures_are_retried(exc: OAuthBearerError, expected: bool) -> None:
    assert retryable(exc) is expected
