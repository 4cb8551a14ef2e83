"""Load, in-process and bounded: a 10,000-token burst against a slow upstream, and floods.

The burst runs through the real ASGI app on one event loop (no sockets: the figures are the
sidecar's, not the kernel's); the long run over loopback sockets is ``bench/soak.py``.
Figures are printed (``-s``) and recorded in RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time

import httpx
import respx
from joserfc.jwk import RSAKey

from tests.robustness.conftest import active_claims, form_token
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    UPSTREAM_URL,
    FakeClock,
    b64url,
    jwks_of,
    make_settings,
    running,
)

BURST = 10_000
UPSTREAM_CONCURRENCY = 32
TIMEOUT = 2.0


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


async def _histogram(client: httpx.AsyncClient, name: str) -> dict[str, float]:
    """Cumulative bucket counts of one Prometheus histogram, by ``le``."""
    text = (await client.get("/metrics")).text
    buckets: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[le] = float(line.rsplit(" ", 1)[1])
    assert buckets, f"{name} not exposed"
    return buckets


async def test_burst_of_10000_distinct_tokens_with_a_slow_upstream(rsa_key: RSAKey) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    state = {"in_flight": 0, "peak": 0, "calls": 0}
    rng = random.Random(7)  # noqa: S311 - upstream delays, not cryptography

    async def slow(request: httpx.Request) -> httpx.Response:
        state["calls"] += 1
        state["in_flight"] += 1
        state["peak"] = max(state["peak"], state["in_flight"])
        try:
            await asyncio.sleep(rng.uniform(0.02, 0.08))
        finally:
            state["in_flight"] -= 1
        token = form_token(request)
        if int(token.rsplit("-", 1)[1]) % 2:
            return httpx.Response(200, json={"active": False})
        return httpx.Response(200, json=active_claims())

    router.post(UPSTREAM_URL).mock(side_effect=slow)
    settings = make_settings(
        upstream_timeout=TIMEOUT,
        upstream_max_concurrency=UPSTREAM_CONCURRENCY,
        caller_max_inflight=0,  # the global bound alone; per-caller limits: test_limits.py
        negative_cache_max_entries=2_000,
        cache_max_entries=3_000,
    )
    latencies: list[float] = []

    async with running(settings, router, FakeClock()) as h:

        async def one(i: int) -> int:
            started = time.perf_counter()
            response = await h.introspect(f"burst-token-{i}")
            latencies.append(time.perf_counter() - started)
            if response.status_code == 200:
                body = response.json()
                assert body == {"active": False} or (body["active"] is True and i % 2 == 0)
            return response.status_code

        lag = [0.0]

        async def ticker() -> None:
            # How late the loop runs a 10 ms timer: the scheduling delay every request
            # (client and server share this one loop in-process) sees on top of its work.
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                lag[0] = max(lag[0], time.perf_counter() - before - 0.01)

        rss_before = _rss_mib()
        tick = asyncio.create_task(ticker())
        started = time.perf_counter()
        statuses = await asyncio.gather(*(one(i) for i in range(BURST)))
        wall = time.perf_counter() - started
        tick.cancel()
        rss_growth = _rss_mib() - rss_before
        upstream_latency = await _histogram(
            h.client, "oauthbearer_sidecar_upstream_latency_seconds"
        )
        sidecar = h.sidecar
        cache_entries = len(sidecar.cache)
        in_flight_after = len(sidecar.introspector._flight)

    answered = {s: statuses.count(s) for s in set(statuses)}
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    timed_out = upstream_latency["+Inf"] - upstream_latency["2.0"]
    print(
        f"\nburst: {BURST} requests in {wall:.2f} s; statuses {answered}; upstream calls "
        f"{state['calls']}, peak concurrency {state['peak']}; latency p50 "
        f"{latencies[len(latencies) // 2] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max "
        f"{latencies[-1] * 1000:.0f} ms; loop lag max {lag[0] * 1000:.0f} ms; RSS growth "
        f"{rss_growth:.0f} MiB; upstream steps over {TIMEOUT:g} s {timed_out:.0f}; "
        f"cache entries after {cache_entries}"
    )
    assert len(statuses) == BURST  # every request answered
    assert set(answered) <= {200, 503}
    assert answered.get(200, 0) >= UPSTREAM_CONCURRENCY  # the upstream's worth got through
    assert state["peak"] <= UPSTREAM_CONCURRENCY
    # Every request answered within the upstream timeout plus the loop's scheduling delay
    # (in-process, the 10,000 clients compete with the server for the one loop).
    assert latencies[-1] < TIMEOUT + 2 * lag[0] + 1.0, (latencies[-1], lag[0])
    assert rss_growth < 300, rss_growth
    assert cache_entries <= 3_000 + 2_000
    assert in_flight_after == 0


async def test_garbage_flood_reaches_the_upstream_at_most_at_the_negative_cache_rate(
    rsa_key: RSAKey,
) -> None:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    jwks = router.get(JWKS_URL)
    jwks.respond(200, json=jwks_of(rsa_key))
    upstream = router.post(UPSTREAM_URL)
    upstream.respond(200, json={"active": False})
    clock = FakeClock()
    negative_ttl, seconds, step = 2.0, 30.0, 0.5
    garbage = [f"garbage-{i:04d}-{'x' * 20}" for i in range(40)]
    not_tokens = ["has space", "ünïcode", "{json}", "a,b", "<script>", "tab%09x"]
    forged_jwts = [  # random kids: the JWKS may be refetched at most once per 10 s
        b64url(json.dumps({"alg": "RS256", "kid": f"kid-{i}"}).encode()) + ".e30.c2ln"
        for i in range(20)
    ]
    settings = make_settings(
        negative_cache_ttl=negative_ttl,
        negative_cache_max_entries=10_000,
        jwks_min_refetch_interval=10.0,
        caller_max_inflight=0,  # one caller floods here; its limit is test_limits.py's
    )
    sent = 0
    async with running(settings, router, clock) as h:
        jwks_before = jwks.call_count
        for _ in range(int(seconds / step)):
            batch = [*garbage, *not_tokens, *forged_jwts]
            responses = await asyncio.gather(*(h.introspect(t) for t in batch))
            assert all(r.json() == {"active": False} for r in responses)
            sent += len(batch)
            clock.advance(step)
        jwks_refetches = jwks.call_count - jwks_before
    bound = len(garbage) * math.ceil(seconds / negative_ttl + 1)
    print(
        f"\ngarbage flood: {sent} requests over {seconds:.0f} simulated s; upstream calls "
        f"{upstream.call_count} (bound {bound}: one per token per {negative_ttl:g} s); "
        f"JWKS refetches {jwks_refetches}"
    )
    assert upstream.call_count <= bound
    assert upstream.call_count >= len(garbage)  # each was asked about once at least
    assert jwks_refetches <= math.ceil(seconds / 10.0) + 1
