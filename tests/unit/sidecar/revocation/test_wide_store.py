"""Realm- and application-wide watermarks: the store, the cache, the record, a replica.

An "everyone" revocation at ``T`` denies every token with ``iat ≤ T``; an application's
denies the tokens of that application (``applicationId``, ``aud``, ``azp`` or
``client_id``). Cached verdicts keep no iat, so applying one drops every cached active
verdict and the watermark is checked on fresh decisions only
(:meth:`RevocationStore.denies_fresh`): the cache-hit check (:meth:`RevocationStore.denies`)
is left as it was.
"""

from __future__ import annotations

import json

import pytest

from oauthbearer.sidecar.cache import ResultCache
from oauthbearer.sidecar.revocation import records
from oauthbearer.sidecar.revocation.events import Event, MalformedEvent
from oauthbearer.sidecar.revocation.records import RevocationRecord
from oauthbearer.sidecar.revocation.service import Revocations
from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.revocation.topic_readers import replicated_revocations
from oauthbearer.sidecar.verdict import Verdict, token_key
from tests.unit.sidecar.conftest import NOW, FakeClock

LIFETIME = 3600.0
SKEW = 30.0
APP = "85a03867-dccf-4882-adde-1a79aeec50df"
#: The record kinds a replica of the previous release knows.
OLD_KINDS = ("principal", "jti", "token", "session")


def make_store(clock: FakeClock) -> tuple[RevocationStore, list[str]]:
    seen: list[str] = []
    store = RevocationStore(
        max_lifetime=LIFETIME, clock=clock, clock_skew=SKEW, observe=seen.append
    )
    return store, seen


def verdict(iat: float, sub: str = "alice", **extra: object) -> Verdict:
    return Verdict.of({"sub": sub, "iat": int(iat), "exp": int(iat) + 300, **extra}, "jwks")


def make_cache(clock: FakeClock) -> ResultCache:
    return ResultCache(
        ttl=60, max_entries=100, negative_ttl=2, negative_max_entries=10, clock=clock
    )


# --- the store ---------------------------------------------------------------------------


def test_everyone_at_t_denies_fresh_decisions_with_iat_up_to_t(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    assert store.denies_fresh(b"k", verdict(NOW - 10)) is None
    assert store.wide.revoke_everyone(NOW)
    assert store.wide.everyone == NOW
    assert store.denies_fresh(b"k", verdict(NOW - 10)) == "everyone revoked"
    assert store.denies_fresh(b"k", verdict(NOW, sub="bob")) == "everyone revoked"
    assert store.denies_fresh(b"k", verdict(NOW + 1)) is None
    assert seen == ["everyone", "denied:everyone", "denied:everyone"]
    assert len(store) == 1


def test_the_cache_hit_check_is_not_touched(clock: FakeClock) -> None:
    """denies() runs on every cache hit: the wide watermarks are enforced by evicting
    the cache instead, so a hit stays one truth test while nothing else is revoked."""
    store, _ = make_store(clock)
    store.wide.revoke_everyone(NOW)
    store.wide.revoke_application(APP, NOW)
    assert store.denies(b"k", verdict(NOW - 10, aud=APP)) is None


def test_everyone_only_moves_forward_and_defaults_to_now(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    assert store.wide.revoke_everyone()
    assert store.wide.everyone == NOW
    assert not store.wide.revoke_everyone(NOW - 60)  # an older "Set to now" replayed
    assert not store.wide.revoke_everyone(NOW)  # a duplicate
    assert store.wide.revoke_everyone(NOW + 5)
    assert store.wide.everyone == NOW + 5
    assert seen == ["everyone", "everyone"]


def test_everyone_is_capped_to_now_plus_skew(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    store.wide.revoke_everyone(NOW + 86_400)  # a notBefore a day ahead
    assert store.wide.everyone == NOW + SKEW


def test_everyone_expires_like_a_principals_watermark(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    assert not store.wide.revoke_everyone(NOW - LIFETIME - SKEW)  # nothing left to deny
    assert len(store) == 0
    store.wide.revoke_everyone(NOW)
    clock.advance(LIFETIME + SKEW - 1)
    assert store.denies_fresh(b"k", verdict(NOW)) == "everyone revoked"
    clock.advance(1)
    assert store.denies_fresh(b"k", verdict(NOW)) is None
    assert store.wide.everyone is None
    assert len(store) == 0


def test_an_application_denies_its_own_tokens_only(clock: FakeClock) -> None:
    store, seen = make_store(clock)
    assert store.wide.revoke_application(APP, NOW)
    assert store.wide.application(APP) == NOW
    for claims in ({"applicationId": APP}, {"aud": APP}, {"aud": ["urn:kafka", APP]},
                   {"azp": APP}, {"client_id": APP}):  # fmt: skip
        assert store.denies_fresh(b"k", verdict(NOW - 1, **claims)) == "application revoked"
    assert store.denies_fresh(b"k", verdict(NOW + 1, aud=APP)) is None  # issued later
    assert store.denies_fresh(b"k", verdict(NOW - 1, aud="other-app")) is None
    assert store.denies_fresh(b"k", verdict(NOW - 1)) is None
    assert seen.count("application") == 1
    assert seen.count("denied:application") == 5
    clock.advance(LIFETIME + SKEW)
    store.purge()
    assert len(store) == 0


def test_the_repr_counts_wide_watermarks(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    store.wide.revoke_everyone()
    store.wide.revoke_application(APP)
    assert APP not in repr(store)
    assert "everyone=1" in repr(store)
    assert "applications=1" in repr(store)


# --- the cache ---------------------------------------------------------------------------


def test_evict_active_drops_every_active_verdict_and_keeps_refusals(clock: FakeClock) -> None:
    cache = make_cache(clock)
    for i in range(5):
        cache.put(token_key(f"t-{i}"), verdict(NOW, sub=f"user-{i % 2}"))
    cache.put(token_key("refused"), Verdict.inactive("jwks"))
    assert cache.evict_active() == 5
    assert cache.active_entries == 0
    assert cache.get(token_key("t-0")) is None
    assert cache.get(token_key("refused")) == Verdict.inactive("jwks")
    assert cache.evict_subject("user-0") == 0  # the sub index went with them
    cache.put(token_key("t-new"), verdict(NOW, sub="user-0"))
    assert cache.evict_subject("user-0") == 1


# --- the record --------------------------------------------------------------------------

EVERYONE = RevocationRecord("everyone", "*", NOW - 5, "keycloak", "keycloak:42")
APPLICATION = RevocationRecord("application", APP, NOW - 5, "fusionauth", "fusionauth:e-1")


@pytest.mark.parametrize("record", [EVERYONE, APPLICATION])
def test_wide_records_round_trip(record: RevocationRecord) -> None:
    assert RevocationRecord.decode(record.encode()) == record


def test_the_everyone_record_on_the_wire() -> None:
    assert json.loads(EVERYONE.encode()) == {
        "v": 1,
        "kind": "everyone",
        "value": "*",
        "at": NOW - 5,
        "source": "keycloak",
        "id": "keycloak:42",
    }
    assert EVERYONE.key == b"everyone:*"


@pytest.mark.parametrize("record", [EVERYONE, APPLICATION])
def test_a_replica_of_the_previous_release_counts_the_new_kinds_malformed(
    record: RevocationRecord, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same format version, so an older replica reads on: its decoder refuses a kind it
    does not know (the consumer turns that into a counted ``malformed`` event), it does
    not crash and applies nothing."""
    monkeypatch.setattr(records, "KINDS", OLD_KINDS)
    with pytest.raises(MalformedEvent, match="unknown kind"):
        replicated_revocations().decode(record.encode())
    store, _ = make_store(clock)
    outcomes: list[tuple[str, str, str]] = []
    old = Revocations(store, make_cache(clock), observe=lambda *o: outcomes.append(o))
    old.apply_batch([("replicated", Event.malformed("replicated"))])
    assert outcomes == [("replicated", "malformed", "malformed")]
    assert len(store) == 0


# --- a replica applying them -------------------------------------------------------------


def test_a_replica_applies_a_replicated_everyone_record(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    cache = make_cache(clock)
    outcomes: list[tuple[str, str, str]] = []
    replica = Revocations(store, cache, observe=lambda *o: outcomes.append(o))
    cached = token_key("cached-before")
    cache.put(cached, verdict(NOW - 60))
    replica.apply_batch([("replicated", EVERYONE), ("replicated", EVERYONE)])
    assert outcomes == [
        ("replicated", "everyone", "applied"),
        ("replicated", "everyone", "duplicate"),  # deduped on its event id
    ]
    assert cache.get(cached) is None  # dropped at once, not when its TTL runs out
    assert store.wide.everyone == NOW - 5
    assert store.denies_fresh(cached, verdict(NOW - 60)) == "everyone revoked"


def test_a_replica_applies_a_replicated_application_record(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    cache = make_cache(clock)
    replica = Revocations(store, cache)
    cache.put(token_key("t"), verdict(NOW - 60, aud=APP))
    assert replica.apply_record(APPLICATION, "replicated") == "applied"
    assert cache.active_entries == 0
    assert store.wide.application(APP) == NOW - 5


def test_replayed_on_start_unless_older_than_any_live_token(clock: FakeClock) -> None:
    """The replay hands a restarted replica the topic's last max-lifetime of records."""
    store, _ = make_store(clock)
    replica = Revocations(store, make_cache(clock))
    stale = RevocationRecord("everyone", "*", NOW - LIFETIME - SKEW, "api", "api:old")
    replica.apply_batch([("replicated", stale), ("replicated", EVERYONE)])
    assert store.wide.everyone == NOW - 5


def test_an_unchanged_realm_update_leaves_the_cache_alone(clock: FakeClock) -> None:
    """Every realm save carries the realm's notBefore: only a later one drops the cache."""
    store, _ = make_store(clock)
    cache = make_cache(clock)
    replica = Revocations(store, cache)
    replica.apply_record(EVERYONE, "replicated")
    cache.put(token_key("t"), verdict(NOW))
    again = RevocationRecord("everyone", "*", NOW - 5, "keycloak", "keycloak:43")
    assert replica.apply_record(again, "replicated") == "ignored"
    assert cache.active_entries == 1


def test_an_event_becomes_the_record_the_replicas_share(clock: FakeClock) -> None:
    store, _ = make_store(clock)
    replica = Revocations(store, make_cache(clock))
    realm = Event("keycloak", "admin.ACTION", None, NOW - 5, "keycloak:42", everyone=True)
    app = Event(
        "fusionauth", "jwt.refresh-token.revoke", None, None, "fusionauth:e-1", application=APP
    )
    assert replica.receive(realm, "keycloak") == ("applied", EVERYONE)
    outcome, record = replica.receive(app, "fusionauth")
    assert outcome == "applied"
    assert record == RevocationRecord("application", APP, NOW, "fusionauth", "fusionauth:e-1")


def test_a_direct_revocation_of_everyone(clock: FakeClock) -> None:
    replica = Revocations(make_store(clock)[0], make_cache(clock))
    record = replica.direct_record("all", "*", None)
    assert (record.kind, record.value, record.at, record.source) == ("everyone", "*", NOW, "api")
    assert record.event_id.startswith("api:")


def test_a_record_carries_the_time_that_took_effect_not_a_clock_ahead(clock: FakeClock) -> None:
    """ "Set to now" carries the admin's browser clock. Ten minutes ahead, the record
    shared the raw time, and a replica replaying it later capped it against its own now:
    it denied tokens issued after the event, on restarted replicas only."""
    store, _ = make_store(clock)
    here = Revocations(store, make_cache(clock))
    ahead = Event("keycloak", "admin.UPDATE", None, NOW + 600, "keycloak:9", everyone=True)
    outcome, record = here.receive(ahead, "webhook")
    assert outcome == "applied"
    assert record is not None
    assert record.at == NOW + SKEW
    later = FakeClock(NOW + 300)  # a replica restarted five minutes later replays it
    replayed, _ = make_store(later)
    Revocations(replayed, make_cache(later)).apply_record(record, "replicated")
    assert replayed.wide.everyone == NOW + SKEW
