"""Per-caller limits: one broker flooding distinct tokens cannot starve the others.

The upstream is slow and bounded (as in production); broker ``greedy`` sends far more
distinct opaque tokens than its share, broker ``polite`` sends a few. Timing is real but
bounded (the upstream answers in 50 ms); nothing waits for an expiry.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import respx
from joserfc.jwk import RSAKey

from oauthbearer._secret import Secret
from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.limits import CallerLimited, CallerLimits
from oauthbearer.sidecar.settings import SidecarSettings
from tests.robustness.conftest import active_claims, form_token
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    UPSTREAM_URL,
    FakeClock,
    Harness,
    basic,
    jwks_of,
    make_settings,
    running,
    sign,
)

CALLERS = "greedy:fake-greedy-secret,polite:fake-polite-secret"
GREEDY = basic("greedy", "fake-greedy-secret")
POLITE = basic("polite", "fake-polite-secret")


def _world(router: respx.MockRouter, key: RSAKey, delay: float) -> dict[str, int]:
    seen = {"in_flight": 0, "peak": 0, "polite_calls": 0}

    async def slow(request: httpx.Request) -> httpx.Response:
        seen["in_flight"] += 1
        seen["peak"] = max(seen["peak"], seen["in_flight"])
        if form_token(request).startswith("polite"):
            seen["polite_calls"] += 1
        try:
            await asyncio.sleep(delay)
        finally:
            seen["in_flight"] -= 1
        return httpx.Response(200, json=active_claims())

    router.get(JWKS_URL).respond(200, json=jwks_of(key))
    router.post(UPSTREAM_URL).mock(side_effect=slow)
    return seen


async def test_a_flooding_broker_is_limited_and_the_others_are_served(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    seen = _world(router, rsa_key, delay=0.05)
    settings = make_settings(
        callers=Secret(CALLERS),
        upstream_max_concurrency=8,
        caller_max_inflight=4,
        caller_max_queued=8,
        upstream_timeout=1.0,
    )
    async with running(settings, router, FakeClock()) as h:
        greedy = [
            asyncio.create_task(h.introspect(f"greedy-token-{i}", authorization=GREEDY))
            for i in range(300)
        ]
        await asyncio.sleep(0.01)  # the flood is queued before the polite broker arrives
        started = time.perf_counter()
        polite = await asyncio.gather(
            *(h.introspect(f"polite-token-{i}", authorization=POLITE) for i in range(4))
        )
        polite_latency = time.perf_counter() - started
        flood = await asyncio.gather(*greedy)
        metrics = (await h.client.get("/metrics")).text

    # The polite broker got its answers at once (one upstream round trip), not after the flood.
    assert [r.json()["active"] for r in polite] == [True] * 4
    assert polite_latency < 0.5, polite_latency
    assert seen["polite_calls"] == 4
    # The greedy one: at most its share in flight, its queue bounded, the rest told to retry.
    statuses = [r.status_code for r in flood]
    assert set(statuses) <= {200, 429}
    refused = [r for r in flood if r.status_code == 429]
    # Its share (4 in flight + 8 queued) was served; the other 288 were refused at once.
    assert statuses.count(200) == 4 + 8
    assert len(refused) == 300 - 12
    assert all(r.headers["retry-after"] == "1" for r in refused)
    assert all(r.json() == {"error": "temporarily_unavailable"} for r in refused)
    assert seen["peak"] <= 8  # the upstream bound held throughout
    assert f'result="limited",source="none"}} {float(len(refused))}' in metrics


async def test_a_herd_sharing_one_token_takes_one_slot(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    seen = _world(router, rsa_key, delay=0.05)
    settings = make_settings(callers=Secret(CALLERS), caller_max_inflight=1, caller_max_queued=0)
    async with running(settings, router, FakeClock()) as h:
        responses = await asyncio.gather(
            *(h.introspect("one-shared-token", authorization=GREEDY) for _ in range(200))
        )
    assert {r.status_code for r in responses} == {200}
    assert seen["peak"] == 1


async def test_cache_hits_are_never_limited(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    _world(router, rsa_key, delay=0.0)
    settings = make_settings(callers=Secret(CALLERS), caller_max_inflight=1, caller_max_queued=0)
    async with running(settings, router, FakeClock()) as h:
        tokens = [f"cached-token-{i}" for i in range(50)]
        for token in tokens:  # one at a time: within the cap, now all cached
            assert (await h.introspect(token, authorization=GREEDY)).status_code == 200
        hits = await asyncio.gather(*(h.introspect(t, authorization=GREEDY) for t in tokens * 4))
    assert {r.status_code for r in hits} == {200}


def _gated_world(key: RSAKey) -> tuple[respx.MockRouter, asyncio.Event]:
    """The JWKS of ``key``; the upstream holds tokens starting "held" until the gate opens."""
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    gate = asyncio.Event()

    async def upstream(request: httpx.Request) -> httpx.Response:
        if form_token(request).startswith("held"):
            await gate.wait()
        return httpx.Response(200, json=active_claims())

    router.get(JWKS_URL).respond(200, json=jwks_of(key))
    router.post(UPSTREAM_URL).mock(side_effect=upstream)
    return router, gate


async def _take_greedys_only_slot(h: Harness) -> asyncio.Task[httpx.Response]:
    """An upstream introspection for "greedy" that holds its one slot until the gate opens."""
    held = asyncio.create_task(h.introspect("held-opaque-token", authorization=GREEDY))
    for _ in range(1000):  # event-loop turns until the held call has taken the slot
        if h.sidecar.limits.inflight("greedy"):
            break
        await asyncio.sleep(0)
    assert h.sidecar.limits.inflight("greedy") == 1
    return held


async def test_a_caller_at_its_cap_still_gets_its_cached_tokens(rsa_key: RSAKey) -> None:
    router, gate = _gated_world(rsa_key)
    settings = make_settings(callers=Secret(CALLERS), caller_max_inflight=1, caller_max_queued=0)
    async with running(settings, router, FakeClock()) as h:
        assert (await h.introspect("cached-token", authorization=GREEDY)).status_code == 200
        held = await _take_greedys_only_slot(h)
        hit = await h.introspect("cached-token", authorization=GREEDY)
        refused = await h.introspect("new-token", authorization=GREEDY)
        gate.set()
        assert (await held).status_code == 200
    assert (hit.status_code, hit.json()["active"]) == (200, True)
    assert refused.status_code == 429  # new upstream work is what the cap refuses


async def test_a_caller_at_its_cap_still_gets_jwts_verified_with_keys_at_hand(
    rsa_key: RSAKey,
) -> None:
    # A JWT whose key is loaded is judged without an await: no upstream capacity, nothing
    # to wait for, so the cap has nothing to protect. One that names a kid we lack may
    # need a JWKS fetch, and that is work the cap does count.
    router, gate = _gated_world(rsa_key)
    settings = make_settings(callers=Secret(CALLERS), caller_max_inflight=1, caller_max_queued=0)
    async with running(settings, router, FakeClock()) as h:
        first = await h.introspect(sign(rsa_key, {"jti": "first"}), authorization=GREEDY)
        assert first.json()["active"] is True  # the key set is loaded now
        held = await _take_greedys_only_slot(h)
        fresh = [sign(rsa_key, {"jti": f"fresh-{i}"}) for i in range(5)]
        verified = [await h.introspect(token, authorization=GREEDY) for token in fresh]
        rotated_in = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"})
        unknown_kid = await h.introspect(sign(rotated_in), authorization=GREEDY)
        gate.set()
        assert (await held).status_code == 200
        metrics = (await h.client.get("/metrics")).text
    assert [(r.status_code, r.json()["active"]) for r in verified] == [(200, True)] * 5
    assert 'oauthbearer_sidecar_requests_total{result="active",source="jwks"} 6.0' in metrics
    assert unknown_kid.status_code == 429


async def test_zero_turns_the_limit_off(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    seen = _world(router, rsa_key, delay=0.02)
    settings = make_settings(caller_max_inflight=0, upstream_max_concurrency=64)
    async with running(settings, router, FakeClock()) as h:
        responses = await asyncio.gather(*(h.introspect(f"tok-{i}") for i in range(100)))
    assert {r.status_code for r in responses} == {200}
    assert seen["peak"] == 64


async def test_limits_release_slots_on_failure_and_cancellation() -> None:
    limits = CallerLimits(max_inflight=2, max_queued=0, wait_timeout=0.1)

    async def boom() -> None:
        raise RuntimeError("upstream blew up")

    async def hang() -> None:
        await asyncio.Event().wait()

    for _ in range(5):
        with pytest.raises(RuntimeError):
            await limits.call("b", "t", boom)
    task = asyncio.create_task(limits.call("b", "hanging", hang))
    await asyncio.sleep(0)
    assert limits.inflight("b") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert limits.inflight("b") == 0
    # Both slots free again: two distinct tokens run together, a third is refused.
    gate = asyncio.Event()

    async def wait_gate() -> str:
        await gate.wait()
        return "ok"

    first = asyncio.create_task(limits.call("b", "t1", wait_gate))
    second = asyncio.create_task(limits.call("b", "t2", wait_gate))
    await asyncio.sleep(0)
    with pytest.raises(CallerLimited):
        await limits.call("b", "t3", wait_gate)
    gate.set()
    assert list(await asyncio.gather(first, second)) == ["ok", "ok"]
    assert limits.limited == 1


def test_limits_are_configurable_and_errors_name_the_variable() -> None:
    base = {"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks", "OAUTHBEARER_CALLERS": "b:fake"}
    defaults = SidecarSettings.from_env(base)
    assert (defaults.caller_max_inflight, defaults.caller_max_queued) == (16, 64)
    tuned = SidecarSettings.from_env(
        {**base, "OAUTHBEARER_CALLER_MAX_INFLIGHT": "0", "OAUTHBEARER_CALLER_MAX_QUEUED": "5"}
    )
    assert (tuned.caller_max_inflight, tuned.caller_max_queued) == (0, 5)
    for name, value in [
        ("OAUTHBEARER_CALLER_MAX_INFLIGHT", "-1"),
        ("OAUTHBEARER_CALLER_MAX_INFLIGHT", "many"),
        ("OAUTHBEARER_CALLER_MAX_QUEUED", "-3"),
    ]:
        with pytest.raises(ConfigurationError, match=f"^{name}: "):
            SidecarSettings.from_env({**base, name: value})


async def test_requests_queued_for_one_token_share_its_answer_not_the_upstream(
    rsa_key: RSAKey,
) -> None:
    """A broker's reconnect storm: many requests for one token queue behind the caller's
    slots. Each used to make its own upstream call once it got a slot (and the queue
    overflowed into 429s for a token already cached); the first answer now serves them."""
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    calls: dict[str, int] = {}
    gate = asyncio.Event()

    async def upstream(request: httpx.Request) -> httpx.Response:
        token = form_token(request)
        calls[token] = calls.get(token, 0) + 1
        await gate.wait()
        return httpx.Response(200, json=active_claims())

    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).mock(side_effect=upstream)
    settings = make_settings(
        callers=Secret(CALLERS), caller_max_inflight=2, caller_max_queued=64, upstream_timeout=5
    )
    async with running(settings, router, FakeClock()) as h:
        blockers = [
            asyncio.create_task(h.introspect(f"blocker-{n}", authorization=GREEDY))
            for n in range(2)
        ]
        await asyncio.sleep(0.01)  # both slots taken
        storm = [
            asyncio.create_task(h.introspect("hot-token", authorization=GREEDY)) for _ in range(20)
        ]
        await asyncio.sleep(0.01)  # the storm is queued
        gate.set()
        answers = await asyncio.gather(*blockers, *storm)
        # Answered from the cache on a second look: counted hits, in the cache's own
        # count (the hit-ratio gauge) as in /metrics' lookups.
        metrics = (await h.client.get("/metrics")).text
    assert [a.status_code for a in answers] == [200] * 22
    assert all(a.json()["active"] is True for a in answers)
    assert calls["hot-token"] == 1
    cache = h.sidecar.cache
    assert cache.hits + cache.misses == 22
    assert cache.hits >= 18  # all but the requests that decided or shared the one call
    assert f'cache_lookups_total{{outcome="hit"}} {float(cache.hits)}' in metrics
