"""jairsjunior's handler (the CockroachDB/Okta tutorial's), in a real Apache Kafka 4.0.

Configured only by the broker's environment (``OAUTH_INTROSPECT_*``), pointed at the
sidecar's ``/oauth2/introspect/jairsjunior-ms``: JWT and opaque tokens from ``oauth_cb``
produce and consume. Pointed at the standard path, the same valid token is dropped on the
first request, as KAFKA-13848 predicts (it reads ``exp`` seconds as milliseconds): so the
milliseconds path is what makes it work.

On ``{"active": false}`` this handler throws a NullPointerException: the client sees a
dropped connection, not ``invalid_token``. A refusal here is therefore: nothing delivered,
and the sidecar's decision for that token was ``inactive``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from oauthbearer import oauth_cb
from oauthbearer.sidecar.app import INTROSPECT_MS_PATH, INTROSPECT_PATH
from tests.e2e.conftest import (
    CACHE_TTL_S,
    Kind,
    SidecarHandle,
    consume,
    produce,
    topic_name,
)
from tests.e2e.realbroker.conftest import (
    EVENT_CALLER,
    broker_conf,
    fixed_token,
    forged,
    jairsjunior_broker,
    refusal,
)
from tests.support.idp import Idp
from tests.support.realkafka import RealKafka

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]

N = 20


@pytest.fixture(scope="module")
def jairs_ms(
    kafka_bundle: Path, rb_sidecar: SidecarHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealKafka]:
    broker = jairsjunior_broker(
        kafka_bundle, tmp_path_factory.mktemp("jairs"), rb_sidecar.base, INTROSPECT_MS_PATH, "ms"
    )
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def jairs_standard(
    kafka_bundle: Path, rb_sidecar: SidecarHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealKafka]:
    broker = jairsjunior_broker(
        kafka_bundle, tmp_path_factory.mktemp("jairs"), rb_sidecar.base, INTROSPECT_PATH, "std"
    )
    broker.start()
    yield broker
    broker.stop()


def refused_by(rb_sidecar: SidecarHandle, broker: RealKafka, token: str) -> None:
    mark = rb_sidecar.mark()
    _errors, delivered = refusal(broker, token)
    assert delivered == 0
    decisions = rb_sidecar.decisions(mark)
    assert decisions, "the handler never asked the sidecar"
    assert {d["result"] for d in decisions} == {"inactive"}


@pytest.mark.parametrize("kind", ["jwt", "opaque"])
def test_tokens_from_oauth_cb_produce_and_consume_on_the_ms_path(
    kind: Kind,
    idp: Idp,
    rb_sidecar: SidecarHandle,
    jairs_ms: RealKafka,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(idp, kind)
    mark = rb_sidecar.mark()
    topic = topic_name(f"jairs-{kind}")
    delivered = produce(broker_conf(jairs_ms, oauth_cb), topic, N)
    values = consume(broker_conf(jairs_ms, oauth_cb), topic, N)
    assert delivered.errors == []
    assert sorted(values) == sorted(f"m{i}".encode() for i in range(N))
    decisions = rb_sidecar.decisions(mark)
    assert {d["caller"] for d in decisions} == {"jairsjunior-broker"}
    assert {d["result"] for d in decisions} == {"active"}


def test_the_standard_path_drops_a_valid_token_as_kafka_13848_predicts(
    idp: Idp, rb_sidecar: SidecarHandle, jairs_standard: RealKafka
) -> None:
    token = idp.fetch_token("basic")["access_token"]
    mark = rb_sidecar.mark()
    errors, delivered = refusal(jairs_standard, token)
    assert delivered == 0  # the broker saw a session that expired in 1970
    decisions = rb_sidecar.decisions(mark)
    assert decisions
    assert {d["result"] for d in decisions} == {"active"}  # the sidecar said yes
    assert "SASL authentication error" not in " ".join(errors)


def test_forged_expired_and_revoked_tokens_are_refused(
    idp: Idp, rb_sidecar: SidecarHandle, jairs_ms: RealKafka
) -> None:
    jwt = idp.fetch_token("basic")["access_token"]
    refused_by(rb_sidecar, jairs_ms, forged(jwt))

    opaque = idp.fetch_token("opaque")["access_token"]
    assert refusal(jairs_ms, opaque)[1] == 1
    idp.revoke(opaque)
    assert rb_sidecar.clock is not None
    rb_sidecar.clock.advance(CACHE_TTL_S + 1)  # the cached answer ages out; nobody sleeps
    try:
        refused_by(rb_sidecar, jairs_ms, opaque)
    finally:
        rb_sidecar.clock.advance(-(CACHE_TTL_S + 1))

    fresh = idp.fetch_token("basic")
    step = float(fresh["expires_in"]) + 31 + CACHE_TTL_S
    rb_sidecar.clock.advance(step)
    try:
        refused_by(rb_sidecar, jairs_ms, fresh["access_token"])
    finally:
        rb_sidecar.clock.advance(-step)


def test_a_token_revoked_by_a_keycloak_event_is_refused_at_once(
    idp: Idp, rb_sidecar: SidecarHandle, jairs_ms: RealKafka
) -> None:
    token = idp.fetch_token("post")["access_token"]  # a JWT of kafka-post
    assert refusal(jairs_ms, token)[1] == 1
    logout = {"type": "LOGOUT", "userId": "kafka-post", "uid": 43, "time": int(time.time() * 1000)}
    response = httpx.post(rb_sidecar.base + "/events/keycloak", json=logout, auth=EVENT_CALLER)
    assert response.json() == {"outcomes": ["applied"]}
    refused_by(rb_sidecar, jairs_ms, token)


STORM_CLIENTS = 50
STORM_TOKENS = 5
STORM_S = 10.0
NEGATIVE_TTL_S = 2.0  # the module sidecar's OAUTHBEARER_NEGATIVE_CACHE_TTL


def test_a_reconnect_storm_of_refused_clients_costs_the_idp_one_call_per_token_and_ttl(
    rb_sidecar: SidecarHandle, jairs_ms: RealKafka
) -> None:
    """50 clients with refused tokens: the handler's NPE drops each connection, librdkafka
    reconnects at once, and every reconnect is an introspection at the sidecar. The
    authorization server behind it sees at most one call per distinct token per
    negative-cache TTL."""
    tokens = [f"revoked-opaque-{i}-{uuid.uuid4().hex}" for i in range(STORM_TOKENS)]

    def client(i: int) -> Producer:
        conf = broker_conf(
            jairs_ms,
            fixed_token(tokens[i % STORM_TOKENS]),
            **{"message.timeout.ms": int(STORM_S * 1000), "error_cb": lambda _e: None},
        )
        return Producer(conf)

    before = rb_sidecar.counters()
    started = time.monotonic()
    # In parallel: each constructor waits ~1 s for its first token from oauth_cb.
    with ThreadPoolExecutor(STORM_CLIENTS) as pool:
        producers = list(pool.map(client, range(STORM_CLIENTS)))
    delivered: list[bool] = []
    for producer in producers:
        producer.produce("storm", b"x", on_delivery=lambda err, _msg: delivered.append(err is None))
    while time.monotonic() - started < STORM_S:
        for producer in producers:
            producer.poll(0)
        time.sleep(0.05)  # serving callbacks while the storm runs, not waiting for expiry
    elapsed = time.monotonic() - started
    after = rb_sidecar.counters() - before
    for producer in producers:
        producer.purge()  # what is still queued fails now, reported on the next poll
        producer.poll(0)

    assert not any(delivered), "a refused client got a record through"
    asked = sum(after.requests.values())
    assert asked >= STORM_CLIENTS  # every client asked at least once: a real storm
    windows = int(elapsed // NEGATIVE_TTL_S) + 1
    assert after.upstream_calls <= STORM_TOKENS * windows, (after.upstream_calls, asked)
    print(
        f"\n{STORM_CLIENTS} clients, {elapsed:.1f} s: {asked} introspections at the "
        f"sidecar, {after.upstream_calls} at the authorization server"
    )
