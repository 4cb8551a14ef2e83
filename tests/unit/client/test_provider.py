"""TokenProvider: shared cache, single flight, refresh timing, backoff, outages, deadline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
import respx

from oauthbearer._secret import Secret
from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import (
    ConfigurationError,
    TokenEndpointError,
    TokenRequestError,
    TokenResponseError,
)

from .conftest import START, TOKEN_URL, FakeClock, ProviderFactory, make_jwt, token_response

# token_response() lasts 300 s; minus the 30 s skew margin: expires at START+270, lifetime
# 270 s, refresh at 80 % (jitter centred by the fixture's random=0.5) = START+216.
EXPIRES = START + 270
REFRESH = START + 216


@pytest.fixture
def idp() -> Iterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.post(TOKEN_URL).mock(return_value=token_response())


def test_cached_token_is_reused_until_refresh_time(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    p = make_provider()
    first = p.token()
    assert first.expires_at == EXPIRES
    clock.now = REFRESH - 0.001
    assert p.token() is first
    assert p.current() is first
    assert idp.call_count == 1
    clock.now = REFRESH
    assert p.current() is None
    idp.mock(return_value=token_response("second"))
    assert p.token().access_token == "second"
    assert idp.call_count == 2
    assert p.fetch_count == 2


@pytest.mark.parametrize(("rand", "fraction"), [(0.0, 0.75), (0.5, 0.8), (0.999999, 0.85)])
def test_refresh_fraction_and_jitter(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory, rand: float, fraction: float
) -> None:
    p = make_provider(random=lambda: rand)
    p.token()
    refresh_at = START + 270 * fraction
    clock.now = refresh_at - 0.01
    p.token()
    assert idp.call_count == 1
    clock.now = refresh_at + 0.01
    p.token()
    assert idp.call_count == 2


def test_refresh_fraction_is_configurable(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    p = make_provider(ClientSettings(token_url=TOKEN_URL, refresh_fraction=0.5, refresh_jitter=0))
    p.token()
    clock.now = START + 134
    p.token()
    assert idp.call_count == 1
    clock.now = START + 135
    p.token()
    assert idp.call_count == 2


def test_providers_with_the_same_configuration_share_one_fetch(
    idp: respx.Route, make_provider: ProviderFactory
) -> None:
    def settings() -> ClientSettings:
        return ClientSettings(token_url=TOKEN_URL, client_id="k", client_secret=Secret("fake-s"))

    producers = [make_provider(settings()) for _ in range(5)]
    tokens = {id(p.token()) for p in producers}
    assert len(tokens) == 1
    assert idp.call_count == 1
    other = make_provider(
        ClientSettings(
            token_url=TOKEN_URL, client_id="k", client_secret=Secret("fake-s"), scope="x"
        )
    )
    other.token()
    assert idp.call_count == 2


def test_the_default_cache_is_process_wide(idp: respx.Route, clock: FakeClock) -> None:
    settings = ClientSettings(token_url=TOKEN_URL, client_id="process-wide-test")
    a = TokenProvider(settings, clock=clock, http_client=httpx.Client())
    b = TokenProvider(settings, clock=clock, http_client=httpx.Client())
    try:
        assert a.token() is b.token()
        assert idp.call_count == 1
    finally:
        from oauthbearer.client.provider import SHARED_CACHE

        SHARED_CACHE.clear()


def test_single_flight_under_50_threads(clock: FakeClock, make_provider: ProviderFactory) -> None:
    all_started = threading.Event()
    barrier = threading.Barrier(50, action=all_started.set)

    def slow_idp(request: httpx.Request) -> httpx.Response:
        all_started.wait(10)  # hold the fetch until every thread is calling token()
        return token_response("the-one")

    results: list[str] = []
    errors: list[BaseException] = []

    def worker(p: TokenProvider) -> None:
        try:
            barrier.wait(10)
            results.append(p.token().access_token)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    with respx.mock:
        route = respx.post(TOKEN_URL).mock(side_effect=slow_idp)
        provider = make_provider()
        threads = [threading.Thread(target=worker, args=(provider,)) for _ in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    assert errors == []
    assert results == ["the-one"] * 50
    assert route.call_count == 1


def test_waiters_share_a_final_failure(clock: FakeClock, make_provider: ProviderFactory) -> None:
    release = threading.Event()
    entered = threading.Event()

    def refusing_idp(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(10)
        return httpx.Response(401, json={"error": "invalid_client"})

    outcomes: list[BaseException] = []

    def worker(p: TokenProvider) -> None:
        try:
            p.token()
        except TokenEndpointError as exc:
            outcomes.append(exc)

    with respx.mock:
        route = respx.post(TOKEN_URL).mock(side_effect=refusing_idp)
        provider = make_provider()
        leader = threading.Thread(target=worker, args=(provider,))
        leader.start()
        assert entered.wait(10)
        waiters = [threading.Thread(target=worker, args=(provider,)) for _ in range(5)]
        for t in waiters:
            t.start()
        release.set()
        for t in [leader, *waiters]:
            t.join(20)
    assert len(outcomes) == 6
    assert all(isinstance(e, TokenEndpointError) and e.error == "invalid_client" for e in outcomes)
    assert route.call_count == 1


def test_callers_keep_the_old_token_while_one_refreshes(
    clock: FakeClock, make_provider: ProviderFactory
) -> None:
    release = threading.Event()
    entered = threading.Event()

    calls: list[httpx.Request] = []

    def idp(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return token_response("old")
        entered.set()
        release.wait(10)
        return token_response("new")

    with respx.mock:
        route = respx.post(TOKEN_URL).mock(side_effect=idp)
        provider = make_provider()
        assert provider.token().access_token == "old"
        clock.now = REFRESH + 1
        refresher = threading.Thread(target=provider.token)
        refresher.start()
        assert entered.wait(10)
        # The refresh is in flight: another caller gets the still-valid token at once.
        assert provider.token().access_token == "old"
        release.set()
        refresher.join(10)
        assert provider.token().access_token == "new"
        assert route.call_count == 2


def test_blocking_fetch_retries_with_exponential_backoff_within_the_deadline(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    idp.mock(return_value=httpx.Response(503, text="down"))
    p = make_provider(
        ClientSettings(token_url=TOKEN_URL, backoff_base=0.5, deadline=8.0),
        random=lambda: 1.0,  # full jitter at its ceiling: the exponential is visible
    )
    with pytest.raises(TokenEndpointError) as info:
        p.token()
    assert info.value.status == 503
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]  # the next (8 s) would pass the deadline
    assert idp.call_count == 5
    assert clock.now - START == pytest.approx(7.5)


def test_full_jitter_spreads_the_delay(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    idp.mock(side_effect=[httpx.Response(503), httpx.Response(503), token_response()])
    p = make_provider(ClientSettings(token_url=TOKEN_URL, backoff_base=1.0), random=lambda: 0.25)
    p.token()
    assert clock.sleeps == [0.25, 0.5]


def test_each_attempt_is_bounded_by_the_remaining_deadline(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    budgets: list[float | None] = []

    def timing_out(request: httpx.Request) -> httpx.Response:
        budgets.append(request.extensions["timeout"]["read"])
        clock.advance(3.0)  # each attempt burns 3 s of the budget
        raise httpx.ReadTimeout("slow", request=request)

    idp.mock(side_effect=timing_out)
    p = make_provider(
        ClientSettings(token_url=TOKEN_URL, timeout=5.0, deadline=8.0), random=lambda: 0.0
    )
    with pytest.raises(TokenRequestError, match="timed out"):
        p.token()
    assert budgets == [5.0, 5.0, 2.0]
    assert clock.now - START <= 9.0  # well under confluent-kafka's 10 s wait


def test_retry_after_is_honoured(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    idp.mock(side_effect=[httpx.Response(429, headers={"Retry-After": "3"}), token_response("ok")])
    p = make_provider(random=lambda: 0.0)
    assert p.token().access_token == "ok"
    assert clock.sleeps == [3.0]


def test_retry_after_beyond_the_deadline_fails_fast_and_is_respected_later(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    idp.mock(return_value=httpx.Response(503, headers={"Retry-After": "120"}))
    p = make_provider()
    with pytest.raises(TokenEndpointError):
        p.token()
    assert clock.sleeps == []
    clock.advance(60)
    with pytest.raises(TokenEndpointError) as info:
        p.token()  # still inside Retry-After: no request at all
    assert info.value.retry_after == 120
    assert idp.call_count == 1
    clock.advance(61)
    idp.mock(return_value=token_response("after"))
    assert p.token().access_token == "after"


def test_client_errors_are_not_retried_within_a_call(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    idp.mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
    with pytest.raises(TokenEndpointError, match="invalid_grant"):
        make_provider().token()
    assert idp.call_count == 1
    assert clock.sleeps == []


def test_outage_while_the_token_is_valid(
    idp: respx.Route,
    clock: FakeClock,
    make_provider: ProviderFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = make_provider(ClientSettings(token_url=TOKEN_URL, backoff_base=1.0), random=lambda: 0.5)
    good = p.token()
    idp.mock(side_effect=httpx.ConnectError("connection refused"))
    clock.now = REFRESH
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        assert p.token() is good  # refresh failed: keep the valid token
    assert "keeping the current token" in caplog.text
    assert idp.call_count == 2
    # Backoff (0.5 * 1 s): calls inside the window do not hit the server.
    clock.advance(0.4)
    assert p.token() is good
    assert idp.call_count == 2
    clock.advance(0.2)
    assert p.token() is good
    assert idp.call_count == 3
    # Past expiry there is nothing left to hand out: the real cause surfaces.
    clock.now = EXPIRES
    with pytest.raises(TokenRequestError, match="connection refused"):
        p.token()
    assert clock.sleeps  # the blocking path retried within its deadline


def test_recovery_after_outage_resets_backoff(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    p = make_provider(random=lambda: 1.0)  # refresh at 85 %, backoff at its ceiling
    p.token()
    idp.mock(return_value=httpx.Response(500))
    clock.now = EXPIRES - 20
    p.token()
    clock.advance(0.5)
    p.token()  # second failure: backoff 1 s now
    clock.advance(1.0)
    idp.mock(return_value=token_response("recovered"))
    assert p.token().access_token == "recovered"
    assert idp.call_count == 4


def test_unexpected_exceptions_do_not_wedge_the_slot(
    idp: respx.Route, make_provider: ProviderFactory
) -> None:
    idp.mock(side_effect=[RuntimeError("bug in a transport"), token_response("fine")])
    p = make_provider()
    with pytest.raises(RuntimeError):
        p.token()
    assert p.token().access_token == "fine"


def test_malformed_response_is_not_cached(idp: respx.Route, make_provider: ProviderFactory) -> None:
    idp.mock(side_effect=[token_response(expires_in=-1), token_response("good")])
    p = make_provider()
    with pytest.raises(TokenResponseError, match="already expired"):
        p.token()
    assert p.current() is None


def test_principal_chain(
    idp: respx.Route, make_provider: ProviderFactory, cache: TokenCache
) -> None:
    jwt = make_jwt(
        {"sub": "svc-sub", "client_id": "svc-client", "azp": "svc-azp", "exp": int(START) + 600}
    )
    idp.mock(return_value=token_response(jwt))
    configured = make_provider(ClientSettings(token_url=TOKEN_URL, principal_claim="azp"))
    assert configured.principal(configured.token()) == "svc-azp"
    default = make_provider(ClientSettings(token_url=TOKEN_URL, principal_claim="sub"))
    assert default.principal(default.token()) == "svc-sub"
    missing = make_provider(ClientSettings(token_url=TOKEN_URL, principal_claim="upn"))
    assert missing.principal(missing.token()) == "svc-sub"
    only_client = make_jwt({"client_id": "svc-client", "exp": int(START) + 600})
    idp.mock(return_value=token_response(only_client))
    cache.clear()
    assert default.principal(default.token()) == "svc-client"


def test_opaque_principal_falls_back_to_the_configured_client_id(
    idp: respx.Route, make_provider: ProviderFactory
) -> None:
    with_id = make_provider(ClientSettings(token_url=TOKEN_URL, client_id="kafka-app"))
    assert with_id.principal(with_id.token()) == "kafka-app"
    anonymous = make_provider(
        ClientSettings(token_url=TOKEN_URL, authorization=Secret("Basic eA=="))
    )
    assert anonymous.principal(anonymous.token()) == "unknown"


def test_extensions_are_a_fresh_copy(make_provider: ProviderFactory) -> None:
    p = make_provider(
        ClientSettings(token_url=TOKEN_URL, sasl_extensions=(("logicalCluster", "lkc-1"),))
    )
    first = p.extensions()
    first["x"] = "y"
    assert p.extensions() == {"logicalCluster": "lkc-1"}


def test_prefetch_fills_the_cache(idp: respx.Route, make_provider: ProviderFactory) -> None:
    p = make_provider()
    token = p.prefetch()
    assert p.current() is token
    assert idp.call_count == 1


def test_repeated_failures_do_not_grow_the_traceback(
    idp: respx.Route, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    # librdkafka retries every 10 s for as long as an outage lasts: each re-raise of the
    # stored error must not pile frames onto it.
    idp.mock(return_value=httpx.Response(503, headers={"Retry-After": "3600"}))
    p = make_provider()
    depths = []
    for _ in range(20):
        with pytest.raises(TokenEndpointError) as info:
            p.token()
        tb, depth = info.value.__traceback__, 0
        while tb is not None:
            depth, tb = depth + 1, tb.tb_next
        depths.append(depth)
        clock.advance(10)
    assert idp.call_count == 1
    assert max(depths[1:]) == min(depths[1:])


def test_a_token_that_expires_while_its_refresh_fails_is_not_handed_out(
    idp: respx.Route,
    clock: FakeClock,
    make_provider: ProviderFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A hung endpoint holds a refresh for its whole timeout: the token in hand can expire
    # meanwhile. Handed back, librdkafka refused it ("OAuth callback raised exception")
    # after a WARNING that said "valid -3 s more".
    p = make_provider(ClientSettings(token_url=TOKEN_URL, backoff_base=1.0))
    p.token()

    def slow_outage(request: httpx.Request) -> httpx.Response:
        clock.advance(4)  # the refresh takes longer than the token has left
        return httpx.Response(503)

    idp.mock(side_effect=slow_outage)
    clock.now = EXPIRES - 3  # due, and valid for 3 s more when the refresh starts
    with (
        caplog.at_level(logging.ERROR, logger="oauthbearer.client"),
        pytest.raises((TokenEndpointError, TokenRequestError)),  # the retries' last error
    ):
        p.token()
    assert "expired meanwhile" in caplog.text
    assert p.token_without_waiting() is None


@pytest.mark.parametrize(
    "extensions",
    [{"ab": "x"}, {"logicalCluster": "lkc-1"}, (("logicalCluster", 5),), ("ab",)],
)
def test_extensions_given_in_code_must_be_string_pairs(extensions: object) -> None:
    # A dict was iterated by its keys ({"ab": "x"} became a=b, a longer key a bare
    # ValueError), and a non-string value a bare TypeError.
    if isinstance(extensions, dict):
        given = ClientSettings(token_url=TOKEN_URL, sasl_extensions=extensions)  # type: ignore[arg-type]
        assert given.sasl_extensions == tuple(extensions.items())
        return
    with pytest.raises(ConfigurationError, match="OAUTHBEARER_LOGIN_SASL_EXTENSIONS"):
        ClientSettings(token_url=TOKEN_URL, sasl_extensions=extensions)  # type: ignore[arg-type]
