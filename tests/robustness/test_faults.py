"""Faults across the whole path: upstream, JWKS, clock, and the client's authorization server.

The rule everywhere: a fault is a 503 (retryable, never cached) or an inactive answer —
never ``active: true`` for something not verified, never a 5xx other than 503, never a
trace — and the system recovers by itself when the fault ends, with nothing lost.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import TokenRequestError
from tests.robustness.conftest import (
    GOOD_OPAQUE,
    SyncSidecar,
    active_claims,
    assert_contract,
)
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    NOW,
    UPSTREAM_URL,
    FakeClock,
    jwks_of,
    make_settings,
    running,
    sign,
)

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
Answer = Callable[[httpx.Request], httpx.Response]


class Scripted:
    """An upstream whose next answer the test sets; counts the calls."""

    def __init__(self) -> None:
        self.answer: Answer = lambda _r: httpx.Response(200, json={"active": False})
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        return self.answer(request)


@pytest.fixture(scope="module")
def scripted(rsa_key: RSAKey) -> Iterator[tuple[SyncSidecar, Scripted]]:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    upstream = Scripted()
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).mock(side_effect=upstream)
    app = SyncSidecar(make_settings(negative_cache_ttl=0.0), router, FakeClock())
    yield app, upstream
    app.close()


_fresh_tokens = (f"opaque-fault-token-{i}" for i in itertools.count())

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ANSWERS = st.fixed_dictionaries(
    {
        "status": st.sampled_from(
            [200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 429, 500, 502, 503]
        ),
        "content_type": st.sampled_from(
            ["application/json", "text/html", "text/plain", "application/jwt", ""]
        ),
        "body": st.one_of(
            JSON_VALUES.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=200),
            st.fixed_dictionaries(
                {"active": st.one_of(JSON_VALUES, st.sampled_from(["true", "True", 1, True]))},
                optional={
                    "exp": st.one_of(JSON_VALUES, st.integers(int(NOW) - 100, int(NOW) + 10**6)),
                    "sub": JSON_VALUES,
                    "scope": JSON_VALUES,
                    "iat": JSON_VALUES,
                },
            ).map(lambda d: json.dumps(d).encode()),
        ),
    }
)


@FUZZ
@given(answer=ANSWERS)
def test_any_upstream_answer_gives_200_or_503_and_active_only_when_vouched(
    scripted: tuple[SyncSidecar, Scripted], answer: dict[str, Any]
) -> None:
    app, upstream = scripted
    headers = {"Content-Type": answer["content_type"]} if answer["content_type"] else {}
    upstream.answer = lambda _r: httpx.Response(
        answer["status"], content=answer["body"], headers=headers
    )
    response = app.post(f"token={next(_fresh_tokens)}".encode())
    body = assert_contract(response, allow_503=True)
    try:
        said = json.loads(answer["body"])
    except ValueError:
        said = None
    vouched = (
        answer["status"] == 200 and isinstance(said, dict) and isinstance(said.get("active"), bool)
    )
    if not vouched:
        # Not a usable RFC 7662 answer: our problem, not the token's → 503, retry.
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
    elif said["active"] is not True:
        assert body == {"active": False}
    elif body.get("active") is True:
        assert isinstance(body["exp"], int)
        assert body["exp"] > NOW - 30
        assert isinstance(body["sub"], str)
        assert body["sub"]


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadError("connection reset by peer"),
        httpx.RemoteProtocolError("peer closed connection without sending complete message"),
        httpx.ReadTimeout("read timed out"),
        httpx.PoolTimeout("no connection available"),
        httpx.ProxyError("proxy down"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_faults_are_503_never_cached_and_recover(
    scripted: tuple[SyncSidecar, Scripted], fault: Exception
) -> None:
    app, upstream = scripted
    token = f"opaque-token-during-{type(fault).__name__}"

    def broken(_request: httpx.Request) -> httpx.Response:
        raise fault

    upstream.answer = broken
    for _ in range(3):
        response = app.post(f"token={token}".encode())
        assert response.status_code == 503
        assert assert_contract(response, allow_503=True) == {"error": "temporarily_unavailable"}
    before = upstream.calls
    upstream.answer = lambda _r: httpx.Response(200, json=active_claims())
    recovered = assert_contract(app.post(f"token={token}".encode()))
    assert recovered["active"] is True
    assert upstream.calls == before + 1  # the failures were not cached


async def test_slow_upstream_is_503_within_the_timeout(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))

    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)  # the fault itself; the test waits only for the timeout
        return httpx.Response(200, json=active_claims())

    router.post(UPSTREAM_URL).mock(side_effect=slow)
    async with running(make_settings(upstream_timeout=0.2), router, FakeClock()) as h:
        started = time.perf_counter()
        responses = await asyncio.gather(*(h.introspect(f"slow-token-{i}") for i in range(20)))
        elapsed = time.perf_counter() - started
    # 16 (the per-caller cap) reach the upstream and time out: 503. The other 4 wait for
    # one of this caller's slots for the same budget, then get 429: its own excess.
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [429] * 4 + [503] * 16
    assert all(r.headers["retry-after"] == "1" for r in responses)
    assert elapsed < 1.0, elapsed


async def test_jwks_down_at_start_up_then_back(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    jwks = router.get(JWKS_URL)
    jwks.mock(side_effect=httpx.ConnectError("JWKS down"))
    router.post(UPSTREAM_URL).mock(side_effect=lambda r: httpx.Response(200, json=active_claims()))
    token = sign(rsa_key)
    async with running(make_settings(jwks_min_refetch_interval=0.0), router, FakeClock()) as h:
        for _ in range(3):
            response = await h.introspect(token)
            assert response.status_code == 503  # cannot judge a JWT at all yet
        assert (await h.client.get("/readyz")).status_code == 503
        # Opaque tokens do not need the JWKS: still served by the upstream meanwhile.
        assert (await h.introspect(sorted(GOOD_OPAQUE)[0])).json()["active"] is True
        jwks.mock(return_value=httpx.Response(200, json=jwks_of(rsa_key)))
        back = await h.introspect(token)
        assert back.status_code == 200
        assert back.json()["active"] is True
        assert (await h.client.get("/readyz")).status_code == 200


async def test_jwks_down_during_refresh_keeps_serving(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    jwks = router.get(JWKS_URL)
    jwks.respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).respond(200, json={"active": False})
    clock = FakeClock()
    async with running(make_settings(cache_ttl=0.0), router, clock) as h:
        first = await h.introspect(sign(rsa_key, now=clock.now))
        assert first.json()["active"] is True
        for failure in (
            httpx.ConnectError("down"),
            httpx.Response(500),
            httpx.Response(200, text="<html>"),
        ):
            if isinstance(failure, Exception):
                jwks.mock(side_effect=failure)
            else:
                jwks.mock(return_value=failure)
            with pytest.raises(Exception, match="JWKS"):
                await h.sidecar.jwks.refresh()
            clock.advance(1)
            # A new token with the known kid: verified with the keys kept from before.
            response = await h.introspect(
                sign(rsa_key, now=clock.now, claims={"jti": str(clock.now)})
            )
            assert response.json()["active"] is True
        metrics = (await h.client.get("/metrics")).text
        assert 'oauthbearer_sidecar_jwks_refreshes_total{result="error"} 3.0' in metrics


async def test_clock_jump_forward_never_serves_past_exp(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).mock(side_effect=lambda r: httpx.Response(200, json=active_claims()))
    clock = FakeClock()
    jwt_token = sign(rsa_key, now=clock.now)  # exp = now + 300
    opaque = sorted(GOOD_OPAQUE)[0]  # upstream says exp = NOW + 300
    async with running(make_settings(cache_ttl=3600.0, clock_skew=30.0), router, clock) as h:
        for token in (jwt_token, opaque):
            assert (await h.introspect(token)).json()["active"] is True  # now cached
        clock.advance(301 + 30)  # a jump past exp + skew, far inside the cache TTL
        assert (await h.introspect(jwt_token)).json() == {"active": False}
        # The upstream, with its own (stale) view, still says active with the old exp:
        # we refuse to believe it past exp (RFC 7662 §4).
        assert (await h.introspect(opaque)).json() == {"active": False}


async def test_clock_jump_back_does_not_make_an_expired_verdict_active(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).respond(200, json={"active": False})
    clock = FakeClock()
    async with running(make_settings(), router, clock) as h:
        expired = sign(rsa_key, now=clock.now - 1000)  # exp = now - 700
        assert (await h.introspect(expired)).json() == {"active": False}
        clock.advance(-5)  # back, within the negative-cache TTL
        assert (await h.introspect(expired)).json() == {"active": False}
        clock.advance(-3600)  # far back: a token issued "in the future" is refused too
        future = sign(rsa_key, now=clock.now + 7200)
        assert (await h.introspect(future)).json() == {"active": False}


# --- the client: authorization server down for longer than a token's lifetime -----------

TOKEN_URL = "https://idp.example/oauth2/token"


def test_client_outage_longer_than_the_token_lifetime_then_recovers_by_itself() -> None:
    clock = FakeClock(1_700_000_000.0)
    state = {"up": True, "issued": 0}

    def token_endpoint(_request: httpx.Request) -> httpx.Response:
        if not state["up"]:
            raise httpx.ConnectError("connection refused")
        state["issued"] += 1
        return httpx.Response(
            200, json={"access_token": f"fake-access-token-{state['issued']}", "expires_in": 600}
        )

    http = httpx.Client(transport=httpx.MockTransport(token_endpoint))
    provider = TokenProvider(
        ClientSettings(token_url=TOKEN_URL, client_id="kafka", client_secret=None),
        http_client=http,
        clock=clock,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        random=lambda: 0.5,
        cache=TokenCache(),
    )
    try:
        first = provider.token()
        assert first.access_token == "fake-access-token-1"
        state["up"] = False
        # Due for refresh but still valid: kept and served during the outage.
        clock.now += 500
        assert provider.token().access_token == "fake-access-token-1"
        # Past the lifetime, for two more lifetimes: a clear error naming the endpoint.
        clock.now += 100
        errors = []
        for _ in range(20):
            clock.now += 60
            with pytest.raises(TokenRequestError) as info:
                provider.token()
            errors.append(str(info.value))
        assert all("idp.example" in e and "fake-access-token" not in e for e in errors)
        # The server returns: the next call recovers without anyone resetting anything.
        state["up"] = True
        clock.now += 60  # at most the longest backoff
        recovered = provider.token()
        assert recovered.access_token == f"fake-access-token-{state['issued']}"
        assert recovered.is_valid(clock.now)
    finally:
        provider.close()
        http.close()
