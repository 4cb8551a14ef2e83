"""The negative cache's store: lifetime, bound, and order of eviction (fake clock)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oauthbearer.sidecar.expiring import ExpiringDict
from tests.unit.sidecar.conftest import FakeClock


def test_a_value_lives_for_its_ttl_and_no_longer(clock: FakeClock) -> None:
    store: ExpiringDict[bytes, str] = ExpiringDict(maxsize=10, ttl=2.0, timer=clock)
    store[b"k"] = "inactive"
    clock.advance(1.999)
    assert store.get(b"k") == "inactive"
    clock.advance(0.001)
    assert store.get(b"k") is None
    assert len(store) == 0


def test_setting_again_starts_the_lifetime_anew(clock: FakeClock) -> None:
    store: ExpiringDict[bytes, str] = ExpiringDict(maxsize=10, ttl=2.0, timer=clock)
    store[b"k"] = "first"
    clock.advance(1.5)
    store[b"k"] = "second"
    clock.advance(1.5)
    assert store.get(b"k") == "second"


def test_when_full_the_expired_go_first_then_the_oldest(clock: FakeClock) -> None:
    store: ExpiringDict[bytes, str] = ExpiringDict(maxsize=3, ttl=2.0, timer=clock)
    store[b"a"] = "a"
    clock.advance(1)
    store[b"b"] = "b"
    store[b"c"] = "c"
    clock.advance(1)  # a has expired, b and c live
    store[b"d"] = "d"
    assert [store.get(k) for k in (b"a", b"b", b"c", b"d")] == [None, "b", "c", "d"]
    store[b"e"] = "e"  # full of live values: the oldest (b) goes
    assert [store.get(k) for k in (b"b", b"c", b"d", b"e")] == [None, "c", "d", "e"]
    assert len(store) == 3


def test_a_store_of_size_zero_keeps_nothing(clock: FakeClock) -> None:
    store: ExpiringDict[bytes, str] = ExpiringDict(maxsize=0, ttl=2.0, timer=clock)
    store[b"k"] = "v"
    assert store.get(b"k") is None


@given(
    st.lists(
        st.tuples(st.sampled_from([b"a", b"b", b"c", b"d", b"e"]), st.floats(0, 1.5)),
        max_size=40,
    )
)
def test_never_more_than_maxsize_and_never_a_value_past_its_ttl(
    steps: list[tuple[bytes, float]],
) -> None:
    clock = FakeClock()
    store: ExpiringDict[bytes, float] = ExpiringDict(maxsize=3, ttl=2.0, timer=clock)
    for key, pause in steps:
        store[key] = clock.now
        clock.advance(pause)
        assert len(store) <= 3
        for probe in (b"a", b"b", b"c", b"d", b"e"):
            set_at = store.get(probe)
            assert set_at is None or clock.now < set_at + 2.0
    # The last value set is served until its time is up.
    if steps:
        key, pause = steps[-1]
        assert (store.get(key) is not None) == (pause < 2.0)


def test_expired_values_are_dropped_as_new_ones_arrive(clock: FakeClock) -> None:
    # len() counts what the store holds; a burst that expired is let go by the values
    # set after it (one drop per expired value, never a pass over the burst on a read).
    store: ExpiringDict[bytes, str] = ExpiringDict(maxsize=100, ttl=2.0, timer=clock)
    for i in range(50):
        store[bytes([i])] = "inactive"
    clock.advance(2.0)
    assert len(store) == 50
    store[b"new"] = "inactive"
    assert len(store) == 1
    assert store.get(b"new") == "inactive"
