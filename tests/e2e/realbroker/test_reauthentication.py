"""KIP-368 re-authentication on a real broker: tokens of 20 s, one producer for 90 s.

Strimzi's validator in Apache Kafka 4.0 with ``connections.max.reauth.ms`` set: the broker
gives each session a lifetime (at most the token's), librdkafka refreshes the token at
80 % of its life through our ``oauth_cb`` and re-authenticates the connection it has. Every
message is delivered; the broker's log shows far more authentications than librdkafka
opened connections — re-authentications, not reconnects.

This test runs in real time by design (a real broker, real token lifetimes); it waits for
nothing to expire, it produces throughout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from oauthbearer import oauth_cb
from oauthbearer.client.confluent import default_provider
from tests.e2e.conftest import InprocessSidecarFactory, Kind, topic_name
from tests.e2e.realbroker.conftest import broker_conf, strimzi_properties
from tests.support.idp import Idp, IdpFactory
from tests.support.realkafka import RealKafka, debug_log4j

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]

TOKEN_TTL_S = 20
REAUTH_MS = 10_000
RUN_S = 90.0
RATE_HZ = 20
AUTHENTICATED = "Authentication complete"


@pytest.fixture
def short_idp(idp_factory: IdpFactory) -> Idp:
    return idp_factory(access_token_ttl=TOKEN_TTL_S)


@pytest.fixture
def reauth_broker(
    kafka_bundle: Path,
    short_idp: Idp,
    inprocess_sidecar: InprocessSidecarFactory,
    tmp_path: Path,
) -> Iterator[RealKafka]:
    sidecar = inprocess_sidecar(short_idp)
    log4j = debug_log4j(
        tmp_path / "log4j2.yaml",
        "org.apache.kafka.common.security.authenticator.SaslServerAuthenticator",
    )
    broker = RealKafka(
        kafka_bundle,
        tmp_path,
        name="reauth",
        plugin="strimzi",
        listener="SASL_PLAINTEXT",
        properties={
            **strimzi_properties(sidecar.url, short_idp.issuer),
            "connections.max.reauth.ms": str(REAUTH_MS),
        },
        log4j_config=log4j,
    )
    broker.start()
    yield broker
    broker.stop()


class Stats:
    """librdkafka's statistics: how many TCP connections each broker handle opened."""

    def __init__(self) -> None:
        self.connects: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, raw: str) -> None:
        brokers: dict[str, Any] = json.loads(raw).get("brokers", {})
        with self.lock:
            for name, broker in brokers.items():
                self.connects[name] = int(broker.get("connects", 0))


def test_a_producer_lives_through_token_refreshes_by_re_authenticating(
    short_idp: Idp,
    reauth_broker: RealKafka,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(short_idp, "jwt")
    fetches_before = default_provider().fetch_count
    stats = Stats()
    errors: list[Any] = []
    delivered: list[int] = []
    producer = Producer(
        broker_conf(
            reauth_broker,
            oauth_cb,
            stats_cb=stats,
            error_cb=errors.append,
            **{"statistics.interval.ms": 1000, "linger.ms": 5},
        )
    )
    topic = topic_name("reauth")
    sent = 0
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < RUN_S:
        producer.produce(
            topic,
            f"m{sent}".encode(),
            on_delivery=lambda err, _msg: delivered.append(0 if err else 1),
        )
        sent += 1
        producer.poll(0)
        time.sleep(max(0.0, sent / RATE_HZ - elapsed))  # pacing the producer, not a wait
    assert producer.flush(20) == 0
    producer.poll(1.5)  # one more statistics report, after the last send

    assert sent >= RUN_S * RATE_HZ * 0.9
    assert sum(delivered) == sent, f"{sent - sum(delivered)} of {sent} not delivered"
    refreshes = default_provider().fetch_count - fetches_before - 1
    assert refreshes >= 3, f"only {refreshes} token refreshes in {RUN_S} s"
    log = [line for line in reauth_broker.log_text().splitlines() if AUTHENTICATED in line]
    connections = sum(stats.connects.values())
    # Each session lasts at most REAUTH_MS, so each connection authenticates again about
    # every REAUTH_MS; far more authentications than connections is KIP-368 at work.
    assert 1 <= connections <= 4, stats.connects
    reauthentications = len(log) - connections
    assert reauthentications >= RUN_S * 1000 // REAUTH_MS - 2, (len(log), connections)
    # The broker saw the refreshed tokens: each line names its credential's expiration.
    expirations = {line.split("credential expiration=")[1].split(" ")[0] for line in log}
    assert len(expirations) >= 4, expirations
    authentications = len(log)
    print(
        f"\n{sent} messages, {refreshes} refreshes, {connections} connections, "
        f"{authentications} authentications on the broker"
    )
