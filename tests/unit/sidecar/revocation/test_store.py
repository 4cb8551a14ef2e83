"""RevocationStore: watermark and denylist semantics, expiry on a fake clock, bounds."""

from __future__ import annotations

import sys

import pytest

from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.verdict import Verdict, token_key
from tests.unit.sidecar.conftest import NOW, FakeClock

LIFETIME = 3600.0
SKEW = 30.0


def make_store(clock: FakeClock, **kwargs: object) -> tuple[RevocationStore, list[str]]:
    seen: list[str] = []
    store = RevocationStore(
        max_lifetime=LIFETIME,
        clock=clock,
        clock_skew=SKEW,
        observe=seen.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return store, seen


def verdict(sub: str, iat: float, **extra: object) -> Verdict:
    claims = {"sub": sub, "iat": int(iat), "exp": int(iat) + 300, **extra}
    return Verdict.of(claims, "upstream")


def test_watermark_at_t_denies_iat_up_to_t_and_allows_later(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    assert store.revoke_principal("alice", at=NOW)
    assert store.denies_principal("alice", NOW - 100)
    assert store.denies_principal("alice", NOW)
    assert not store.denies_principal("alice", NOW + 1)
    assert not store.denies_principal("bob", NOW - 100)
    assert seen == ["principal"]


def test_watermark_only_moves_forward_so_replays_change_nothing(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    assert store.revoke_principal("alice", at=NOW)
    assert not store.revoke_principal("alice", at=NOW - 50)  # an older event replayed
    assert not store.revoke_principal("alice", at=NOW)  # a duplicate
    assert store.watermark("alice") == NOW
    assert store.revoke_principal("alice", at=NOW + 10)
    assert store.watermark("alice") == NOW + 10
    assert seen == ["principal", "principal"]


def test_watermark_defaults_to_now_and_is_capped_to_now_plus_skew(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    store.revoke_principal("alice")
    assert store.watermark("alice") == NOW
    store.revoke_principal("bob", at=NOW + 10_000)  # a skewed or bogus event time
    assert store.watermark("bob") == NOW + SKEW


def test_watermark_is_dropped_after_the_max_token_lifetime(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    store.revoke_principal("alice", at=NOW)
    clock.advance(LIFETIME + SKEW - 1)
    assert store.denies_principal("alice", NOW)  # a token of that age may still be valid
    clock.advance(1)
    assert not store.denies_principal("alice", NOW)
    assert store.watermark("alice") is None
    assert len(store) == 0


def test_an_event_older_than_any_live_token_is_not_stored(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    assert not store.revoke_principal("alice", at=NOW - LIFETIME - SKEW)
    assert len(store) == 0
    assert seen == []


def test_expired_entries_are_shed_as_new_ones_arrive(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    for i in range(100):
        store.revoke_principal(f"old-{i}", at=NOW)
    clock.advance(LIFETIME + SKEW)
    for i in range(100):
        store.revoke_principal(f"new-{i}")
    assert len(store) == 100  # each insert retired up to two expired heads


def test_jti_and_token_denied_until_exp_then_forgotten(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    key = token_key("some-token")
    assert store.revoke_jti("jti-1", until=NOW + 100)
    assert store.revoke_token_key(key, until=NOW + 100)
    assert store.denies_jti("jti-1")
    assert store.denies_token_key(key)
    assert not store.denies_jti("jti-2")
    clock.advance(100 + SKEW - 1)
    assert store.denies_jti("jti-1")  # exp is honoured with the same skew as validation
    clock.advance(1)
    assert not store.denies_jti("jti-1")
    assert not store.denies_token_key(key)
    store.purge()
    assert len(store) == 0
    assert seen == ["jti", "token"]


def test_denial_without_exp_lasts_the_max_lifetime(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    store.revoke_jti("jti-1")
    clock.advance(LIFETIME + SKEW - 1)
    assert store.denies_jti("jti-1")
    clock.advance(1)
    assert not store.denies_jti("jti-1")


def test_already_expired_token_is_not_stored(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    assert not store.revoke_jti("jti-1", until=NOW - SKEW - 1)
    assert len(store) == 0


def test_denies_reads_the_cached_answer(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    assert store.denies(b"k", verdict("alice", NOW - 10)) is None  # empty store
    store.revoke_principal("alice", at=NOW)
    assert store.denies(b"k", verdict("alice", NOW - 10)) == "principal revoked"
    assert store.denies(b"k", verdict("alice", NOW + 5)) is None
    assert store.denies(b"k", verdict("bob", NOW - 10)) is None
    store.revoke_jti("jti-9")
    assert store.denies(b"k", verdict("carol", NOW, jti="jti-9")) == "jti revoked"
    store.revoke_token_key(b"k")
    assert store.denies(b"k", verdict("carol", NOW)) == "token revoked"
    assert seen.count("denied:watermark") == 1
    assert seen.count("denied:jti") == 1
    assert seen.count("denied:token") == 1


def test_principal_matched_on_another_claim(clock: FakeClock) -> None:
    store, _ = make_store(clock, principal_claim="user_id")
    store.revoke_principal("u-1", at=NOW)
    assert store.denies(b"k", verdict("svc", NOW - 1, user_id="u-1")) == "principal revoked"
    assert store.denies(b"k", verdict("u-1", NOW - 1)) is None  # sub is not the claim


def test_first_sight_is_idempotency_and_expires(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    assert store.first_sight("e1")
    assert not store.first_sight("e1")
    clock.advance(LIFETIME)
    store.first_sight("e2")  # sheds the expired head
    assert store.first_sight("e1")


def test_capacity_drops_the_oldest_and_counts_them(clock: FakeClock) -> None:
    store, seen = make_store(clock, max_entries=1000)
    for i in range(5000):
        store.revoke_principal(f"user-{i}")
        store.revoke_jti(f"jti-{i}")
        store.first_sight(f"event-{i}")
    assert len(store) <= 2000
    assert store.seen_ids <= 1000
    assert store.watermark("user-4999") == NOW  # the newest are kept
    assert store.watermark("user-0") is None
    assert seen.count("dropped") == 2 * (5000 - 1000)


def _deep_size(store: RevocationStore) -> int:
    size = 0
    for table in (store._watermarks, store._jtis, store._keys, store._seen.ids):
        size += sys.getsizeof(table)  # an OrderedDict's size includes its links
        size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in table.items())
    return size


def test_100000_events_keep_memory_bounded(clock: FakeClock) -> None:
    """100,000 distinct principals and event ids, 50 ms apart: entries stay within
    max_entries per table and, once events are older than the max lifetime, shrink."""
    store, _ = make_store(clock, max_entries=20_000)
    sizes = []
    for i in range(100_000):
        clock.advance(0.05)  # 5,000 s in all: more than LIFETIME + SKEW
        principal = f"{i:08x}-7d1c-4a7e-9a65-0123456789ab"  # uuid-sized user ids
        store.first_sight(f"fusionauth:{i:032x}")
        store.revoke_principal(principal)
        if i % 10 == 0:
            store.revoke_jti(f"{i:032x}", until=clock.now + 300)
        if i % 10_000 == 9_999:
            sizes.append(_deep_size(store))
    assert len(store) <= 2 * 20_000
    assert store.seen_ids <= 20_000
    # About 200 bytes per entry: three full tables stay far below 20 MiB, and the size
    # stops growing once the tables are full.
    assert max(sizes) < 20 * 1024 * 1024, sizes
    assert sizes[-1] <= sizes[4] * 1.05, sizes
    clock.advance(LIFETIME + SKEW)
    store.purge()
    assert len(store) == 0
    assert store.seen_ids == 0


def test_repr_shows_counts_only(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    store.revoke_principal("alice")
    assert "alice" not in repr(store)
    assert repr(store) == (
        "RevocationStore(watermarks=1, jtis=0, tokens=0, sessions=0, everyone=0, applications=0)"
    )


@pytest.mark.parametrize("bad", [{"max_lifetime": 0}, {"max_entries": 0}])
def test_rejects_nonsense_bounds(clock: FakeClock, bad: dict[str, float]) -> None:
    kwargs: dict[str, float] = {"max_lifetime": LIFETIME, **bad}
    with pytest.raises(ValueError, match="must be"):
        RevocationStore(clock=clock, **kwargs)  # type: ignore[arg-type]
