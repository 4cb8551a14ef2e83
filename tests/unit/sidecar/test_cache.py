"""TTL arithmetic of the verdict cache with a fake clock, the negative cache, single flight."""

from __future__ import annotations

import asyncio
import gc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oauthbearer.sidecar.cache import ResultCache
from oauthbearer.sidecar.single_flight import SingleFlight
from oauthbearer.sidecar.verdict import Verdict, token_key
from tests.unit.sidecar.conftest import NOW, FakeClock


def make_cache(
    clock: FakeClock,
    *,
    ttl: float = 60,
    negative_ttl: float = 2,
    max_entries: int = 100,
    ttl_clock: FakeClock | None = None,
) -> ResultCache:
    return ResultCache(
        ttl=ttl,
        max_entries=max_entries,
        negative_ttl=negative_ttl,
        negative_max_entries=3,
        clock=clock,
        ttl_clock=ttl_clock,
    )


def active(exp: float, sub: str = "app") -> Verdict:
    return Verdict.of({"sub": sub, "exp": int(exp), "iat": int(NOW)}, "upstream")


def test_key_is_a_digest_never_the_token() -> None:
    key = token_key("secret-token")
    assert len(key) == 32
    assert b"secret-token" not in key


def test_positive_ttl_capped_by_cache_ttl(clock: FakeClock) -> None:
    cache = make_cache(clock)
    cache.put(b"k", active(NOW + 3600))
    clock.advance(59.9)
    assert cache.get(b"k") is not None
    clock.advance(0.1)
    assert cache.get(b"k") is None


def test_positive_ttl_never_past_exp(clock: FakeClock) -> None:
    cache = make_cache(clock)
    cache.put(b"k", active(NOW + 10))
    assert cache.ttl_for(active(NOW + 10)) == 10
    clock.advance(9.9)
    assert cache.get(b"k") is not None
    clock.advance(0.1)
    assert cache.get(b"k") is None


def test_expired_or_zero_ttl_not_stored(clock: FakeClock) -> None:
    cache = make_cache(clock)
    cache.put(b"old", active(NOW))
    assert cache.get(b"old") is None
    off = make_cache(clock, ttl=0)
    off.put(b"k", active(NOW + 100))
    assert off.get(b"k") is None


def test_exp_rechecked_on_every_hit(clock: FakeClock) -> None:
    cache = make_cache(clock)
    verdict = active(NOW + 30)
    cache.put(b"k", verdict)
    assert cache.ttl_for(verdict) == 30
    clock.now = NOW + 31
    assert cache.get(b"k") is None


@given(ttl=st.floats(0, 10_000), lifetime=st.floats(-100, 100_000), elapsed=st.floats(0, 20_000))
def test_never_served_past_exp_or_ttl(ttl: float, lifetime: float, elapsed: float) -> None:
    clock = FakeClock()
    cache = make_cache(clock, ttl=ttl)
    exp = int(NOW + lifetime)
    cache.put(b"k", active(exp))
    clock.advance(elapsed)
    hit = cache.get(b"k")
    if hit is not None:
        assert clock.now < exp
        assert elapsed < ttl


def test_negative_cache_is_short_and_bounded(clock: FakeClock) -> None:
    cache = make_cache(clock)
    inactive = Verdict.inactive("upstream")
    for i in range(10):
        cache.put(bytes([i]), inactive)
    assert len(cache) == 3  # negative_max_entries
    assert cache.get(bytes([9])) is inactive
    clock.advance(2)
    assert cache.get(bytes([9])) is None


def test_negative_cache_off(clock: FakeClock) -> None:
    cache = make_cache(clock, negative_ttl=0)
    cache.put(b"k", Verdict.inactive("upstream"))
    assert cache.get(b"k") is None


def test_evict_subject(clock: FakeClock) -> None:
    cache = make_cache(clock)
    cache.put(b"a1", active(NOW + 100, "alice"))
    cache.put(b"a2", active(NOW + 100, "alice"))
    cache.put(b"b1", active(NOW + 100, "bob"))
    assert cache.evict_subject("alice") == 2
    assert cache.get(b"a1") is None
    assert cache.get(b"b1") is not None
    assert cache.evict_subject("nobody") == 0


def test_subject_index_stays_bounded_for_one_renewing_principal(clock: FakeClock) -> None:
    cache = make_cache(clock)  # max_entries=100
    for i in range(1000):
        cache.put(i.to_bytes(4, "big"), active(NOW + 30, "alice"))
        clock.advance(31)  # every token expired before the next one arrives
    assert cache._index_size <= 200
    assert sum(len(keys) for keys in cache._by_sub.values()) <= 200


def test_hit_ratio(clock: FakeClock) -> None:
    cache = make_cache(clock)
    assert cache.hit_ratio == 0.0
    cache.put(b"k", active(NOW + 100))
    cache.get(b"k")
    cache.get(b"missing")
    assert cache.hit_ratio == 0.5


async def test_single_flight_collapses_and_survives_a_cancelled_leader() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "done"

    leader = asyncio.create_task(flight.run("k", work))
    await asyncio.sleep(0)
    followers = [asyncio.create_task(flight.run("k", work)) for _ in range(99)]
    await asyncio.sleep(0)
    leader.cancel()  # the first broker hung up
    release.set()
    assert await asyncio.gather(*followers) == ["done"] * 99
    assert calls == 1
    assert len(flight) == 0


async def test_single_flight_propagates_errors_then_forgets() -> None:
    flight: SingleFlight[str, str] = SingleFlight()

    async def boom() -> str:
        raise RuntimeError("x")

    with pytest.raises(RuntimeError):
        await flight.run("k", boom)

    async def ok() -> str:
        return "ok"

    assert await flight.run("k", ok) == "ok"


def test_full_cache_drops_its_oldest_entries_expired_or_not(clock: FakeClock) -> None:
    """No pass over the whole cache for expired entries (it paused 6-9 ms per 100,000
    every 1 % of inserts): the oldest go, and an expired entry elsewhere is never served
    and leaves when it is read."""
    cache = make_cache(clock, ttl=1000, max_entries=3)
    cache.put(b"long-1", active(NOW + 500))
    cache.put(b"short", active(NOW + 10))
    cache.put(b"long-2", active(NOW + 500))
    clock.advance(20)  # "short" has expired but is still stored
    cache.put(b"new", active(NOW + 500))
    assert cache.get(b"long-1") is None  # the oldest went, although live
    assert cache.get(b"short") is None  # expired: not served, and dropped now
    assert len(cache) == 2
    assert [cache.get(k) is not None for k in (b"long-2", b"new")] == [True, True]


def test_evicted_and_expired_keys_leave_the_subject_index(clock: FakeClock) -> None:
    # The index must not outgrow the cache in a full cache's steady state: its rebuild
    # (when it passes twice the cache's size) paused 29 ms per 100,000 entries.
    cache = make_cache(clock, ttl=1000, max_entries=100)
    for i in range(1_000):
        cache.put(i.to_bytes(4, "big"), active(NOW + 500, f"p{i % 7}"))
    cache.put(b"soon", active(NOW + 10, "p0"))
    clock.advance(20)
    assert cache.get(b"soon") is None
    live = len(cache)
    assert sum(len(keys) for keys in cache._by_sub.values()) == cache._index_size == live
    # 1,000 puts and "soon" into 100 places: 901..999 are left (900 made room for "soon").
    assert cache.evict_subject("p3") == sum(1 for i in range(901, 1_000) if i % 7 == 3)


def test_full_cache_of_live_entries_evicts_the_oldest(clock: FakeClock) -> None:
    cache = make_cache(clock, ttl=1000, max_entries=3)
    for name in (b"a", b"b", b"c"):
        cache.put(name, active(NOW + 500))
    cache.put(b"d", active(NOW + 500))
    assert cache.get(b"a") is None
    assert [cache.get(k) is not None for k in (b"b", b"c", b"d")] == [True, True, True]
    assert len(cache) == 3


def test_wall_clock_stepping_back_does_not_stretch_the_ttl(clock: FakeClock) -> None:
    monotonic = FakeClock()
    cache = make_cache(clock, ttl_clock=monotonic)
    cache.put(b"k", active(NOW + 86_400))
    clock.now = NOW - 3_600  # the wall clock steps back an hour (NTP, a VM resumed)
    monotonic.advance(59)
    assert cache.get(b"k") is not None
    monotonic.advance(2)  # 61 s have really passed: the TTL is over, whatever the wall says
    assert cache.get(b"k") is None


def test_wall_clock_jumping_past_exp_ends_a_cached_answer(clock: FakeClock) -> None:
    monotonic = FakeClock()
    cache = make_cache(clock, ttl_clock=monotonic)
    cache.put(b"k", active(NOW + 30))
    clock.advance(31)  # wall time passes exp although little monotonic time has
    assert cache.get(b"k") is None


def test_cached_answers_cost_well_under_a_kibibyte_each() -> None:
    # bench/memory.py in a fresh interpreter: 20,000 verdicts shaped like real answers.
    # When answers were first rendered with orjson, each cached body kept the rest of
    # orjson's write buffer as a hole in the heap: 4,488 bytes per entry instead of
    # ~660, and issue 14's 64 MiB for 100,000 entries became 428 MiB.
    from bench import memory

    result = memory.measure(entries=20_000)

    assert result["bytes_per_entry"] < 1_000, result


def test_cached_entries_are_left_alone_by_the_garbage_collector(clock: FakeClock) -> None:
    # A full collection walks every object it tracks: with an object per entry, 60,000
    # entries made a 47 ms pause under load. Entries of plain values are untracked by
    # the first collection they live through, whatever the verdict's claims held.
    cache = make_cache(clock)
    for i in range(100):
        claims = {"sub": f"p{i}", "exp": NOW + 60, "scope": ["a", "b"], "x": {"y": 1}}
        cache.put(token_key(f"t{i}"), Verdict.of(claims, "jwks", subject=f"p{i}"))
    gc.collect()
    assert not any(gc.is_tracked(entry) for entry in cache._positive.values())
    hit = cache.get(token_key("t7"))  # and a hit still answers with everything it had
    assert hit is not None
    assert (hit.sub, hit.exp, hit.source) == ("p7", NOW + 60, "jwks")
    assert b'"x":{"y":1}' in hit.body
