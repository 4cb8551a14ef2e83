"""Three sidecar replicas as one system: revocations through the revocations topic.

Real parts only: three ``oauthbearer serve`` processes, the tansu broker (real librdkafka
producer and consumer inside each sidecar), the npm authorization server issuing JWT and
opaque tokens. The Keycloak event emitter is played by what it sends: its HTTP POST with
``Basic base64(<HOSTNAME>:<secret>)`` (JSON and FLATBUFFER bodies), and its Kafka
generation's base64 FlatBuffers records, produced by a real producer.

Waits poll with a bound; nothing waits for an expiry. The delays measured here
(propagation to the other replicas, replay on restart) are printed for the README.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from tests.support.idp import JWT_RESOURCE, Idp
from tests.support.keycloak_flatbuffers import (
    DELETE,
    LOGOUT,
    RESOURCE_USER,
    AdminEvent,
    UserEvent,
    admin_event_table,
    http_body,
    kafka_value,
    user_event_table,
)
from tests.support.realkafka import RealKafka
from tests.support.sidecar_process import SidecarProcess
from tests.support.tansu import Tansu

pytestmark = pytest.mark.integration

CALLER = ("broker", "fake-replica-broker-secret")
EMITTER_SECRET = "fake-emitter-secret"
REVOCATIONS_TOPIC = "oauthbearer-revocations"
USER_TOPIC, ADMIN_TOPIC = "keycloak-events", "keycloak-admin-events"
PROPAGATION_BOUND_S = 2.0  # the bound for a revocation to reach every replica
RECOVERY_BOUND_S = 30.0  # a broker restart: reconnects, topic re-created, consumers reset


def emitter_auth(host: str) -> str:
    return "Basic " + base64.b64encode(f"{host}:{EMITTER_SECRET}".encode()).decode()


def logout(user: str, uid: int) -> dict[str, Any]:
    """The emitter's format=JSON body for a Keycloak LOGOUT of ``user``, now."""
    return {
        "uid": uid,
        "time": int(time.time() * 1000),
        "type": "LOGOUT",
        "realmId": "kafka",
        "clientId": "account-console",
        "userId": user,
        "sessionId": "0ad1b6a3-63a4-4a5b-8a4f-9b0c2d1e3f40",
        "ipAddress": "10.0.0.12",
        "error": None,
        "details": {},
    }


def post_event(replica: SidecarProcess, body: Any, host: str) -> httpx.Response:
    return replica.client.post(
        "/events/keycloak",
        content=json.dumps(body).encode(),
        headers={"Authorization": emitter_auth(host), "Content-Type": "application/json"},
    )


def produce(tansu: Broker, topic: str, *records: tuple[bytes, bytes]) -> None:
    producer = Producer({"bootstrap.servers": tansu.bootstrap, "linger.ms": 0})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(10) == 0, f"records not delivered to {topic}"


def until(check: Callable[[], bool], bound: float, what: str) -> float:
    """Seconds until ``check()`` holds, polled; fails past ``bound``."""
    started = time.monotonic()
    while not check():
        elapsed = time.monotonic() - started
        assert elapsed < bound, f"{what} not within {bound} s"
        time.sleep(0.01)
    return time.monotonic() - started


class Cluster:
    def __init__(self, replicas: list[SidecarProcess], tansu: Broker, idp: Idp) -> None:
        self.replicas = replicas
        self.tansu = tansu
        self.idp = idp

    def active(self, replica: SidecarProcess, token: str) -> bool:
        return bool(replica.introspect(token, CALLER)["active"])

    def refuses(self, replica: SidecarProcess, token: str) -> Callable[[], bool]:
        return lambda: not self.active(replica, token)

    def inactive_everywhere_within(self, token: str, bound: float, what: str) -> list[float]:
        return [until(self.refuses(r, token), bound, f"{what} on {r.name}") for r in self.replicas]


@pytest.fixture(scope="module")
def cluster(idp: Idp, broker: Tansu, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    tansu = broker
    # The identity provider's topics exist before the replicas start (they are waited
    # for, never created by us), with records a replay must count and skip.
    produce(tansu, USER_TOPIC, (b"u", b"%% not base64 %%"))
    truncated = kafka_value(user_event_table(UserEvent(5, 1, LOGOUT, "x"))[:12])
    produce(tansu, ADMIN_TOPIC, (b"u", truncated))
    env = {
        "OAUTHBEARER_CALLERS": ":".join(CALLER),
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_ISSUER": idp.issuer,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
        "OAUTHBEARER_CACHE_TTL": "300",  # long: only a revocation can end a cached answer
        "OAUTHBEARER_NEGATIVE_CACHE_TTL": "0",
        "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET": EMITTER_SECRET,
        "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": tansu.bootstrap,
        "OAUTHBEARER_REVOCATIONS_TOPIC": REVOCATIONS_TOPIC,
        "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS": f"{USER_TOPIC},{ADMIN_TOPIC}",
        "OAUTHBEARER_REVOCATIONS_PUBLISH_TIMEOUT": "2",
        "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME": "3600",
        "OAUTHBEARER_LOG_LEVEL": "WARNING",
    }
    log_dir = tmp_path_factory.mktemp("replicas")
    replicas = [SidecarProcess(f"replica-{i}", env, log_dir) for i in (1, 2, 3)]
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()
        yield Cluster(replicas, tansu, idp)
    finally:
        for replica in replicas:
            replica.close()


Broker = Tansu | RealKafka

BOTH_BROKERS = pytest.mark.parametrize(
    "broker", ["tansu", pytest.param("kafka", marks=pytest.mark.realbroker)], indirect=True
)


@pytest.fixture(scope="module")
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    """tansu (memory storage), or real Kafka when a test needs what a restart keeps."""
    log_dir = tmp_path_factory.mktemp(request.param)
    started: Broker
    if request.param == "tansu":
        started = Tansu(advertised_port=None, log_dir=log_dir, name="tansu")
    else:
        bundle = request.getfixturevalue("kafka_bundle")
        started = RealKafka(bundle, log_dir, name="kafka")
    started.start()
    yield started
    started.stop()


@BOTH_BROKERS
def test_a_webhook_revocation_reaches_every_replica_and_survives_a_restart(
    cluster: Cluster,
) -> None:
    one, two, three = cluster.replicas
    token = cluster.idp.fetch_token("basic")["access_token"]  # JWT, sub kafka-basic
    for replica in cluster.replicas:
        assert cluster.active(replica, token)  # verified locally, now cached everywhere

    sent = time.monotonic()
    response = post_event(one, logout("kafka-basic", uid=1843000000000000001), "keycloak-7")
    assert response.status_code == 200, response.text
    assert response.json() == {"outcomes": ["applied"]}
    delays = [until(cluster.refuses(r, token), PROPAGATION_BOUND_S, r.name) for r in (two, three)]
    print(f"\npropagation after the 200 to replicas 2 and 3: {delays} s")
    print(f"webhook round trip incl. Kafka ack: {time.monotonic() - sent:.3f} s (total)")
    assert not cluster.active(one, token)

    # Replica 2, restarted, starts empty and replays the topic before it says ready.
    two.stop()
    two.start()
    replay = two.wait_ready()
    print(f"replica restart to ready (process start + replay): {replay:.2f} s")
    assert not cluster.active(two, token)
    # The writer read its own record back, and counted it as a duplicate of what it applied.
    assert (
        one.metric(
            'oauthbearer_sidecar_revocation_events_total{outcome="duplicate",source="replicated"'
        )
        == 1.0
    )
    assert (
        two.metric(
            'oauthbearer_sidecar_revocation_events_total{outcome="applied",source="replicated"'
        )
        >= 1.0
    )
    assert one.metric('oauthbearer_sidecar_revocations_published_total{outcome="acknowledged"}')


@BOTH_BROKERS
def test_the_kafka_emitter_generation_and_flatbuffer_bodies_reach_every_replica(
    cluster: Cluster,
) -> None:
    post = cluster.idp.fetch_token("post")["access_token"]  # JWT, sub kafka-post
    pkjwt = cluster.idp.fetch_token("pkjwt")["access_token"]  # JWT, sub kafka-pkjwt
    secretjwt = cluster.idp.fetch_token("secretjwt")["access_token"]
    for replica in cluster.replicas:
        for token in (post, pkjwt, secretjwt):
            assert cluster.active(replica, token)
    now_ms = int(time.time() * 1000)

    # The Keycloak 26 emitter: base64 FlatBuffers records on its two topics, key = user id.
    user_event = UserEvent(uid=7_001, time_ms=now_ms, type=LOGOUT, user_id="kafka-post")
    admin = AdminEvent(7_002, now_ms, DELETE, RESOURCE_USER["kafka"], "users/kafka-pkjwt")
    produce(cluster.tansu, USER_TOPIC, (b"kafka-post", kafka_value(user_event_table(user_event))))
    produce(
        cluster.tansu,
        ADMIN_TOPIC,
        (b"kafka-pkjwt", kafka_value(admin_event_table(admin, "kafka"))),
        (b"x", b"AAAA"),  # a record that cannot be decoded: counted, skipped
    )
    cluster.inactive_everywhere_within(post, PROPAGATION_BOUND_S, "Kafka user event")
    cluster.inactive_everywhere_within(pkjwt, PROPAGATION_BOUND_S, "Kafka admin event")
    malformed = 'oauthbearer_sidecar_revocation_events_total{outcome="malformed",source="kafka"'
    for replica in cluster.replicas:
        assert replica.metric(malformed) >= 2.0  # the replayed two, and the live one
    assert cluster.active(cluster.replicas[0], secretjwt)  # nobody else was touched

    # The HTTP emitter's format=FLATBUFFER body, posted to one replica.
    table = user_event_table(
        UserEvent(uid=7_003, time_ms=now_ms, type=LOGOUT, user_id="kafka-secretjwt")
    )
    response = post_event(cluster.replicas[2], http_body(table, "Event"), "keycloak-0")
    assert response.status_code == 200, response.text
    cluster.inactive_everywhere_within(secretjwt, PROPAGATION_BOUND_S, "FLATBUFFER body")


# Real Kafka only: it keeps its log (and the producer's id) across the restart, as a
# cluster does; tansu's memory storage comes back empty.
@pytest.mark.parametrize(
    "broker", [pytest.param("kafka", marks=pytest.mark.realbroker)], indirect=True
)
def test_with_the_broker_down_the_webhook_is_503_and_the_retry_lands_everywhere(
    cluster: Cluster,
) -> None:
    opaque = cluster.idp.fetch_token("opaque")["access_token"]  # sub kafka-opaque
    for replica in cluster.replicas:
        assert cluster.active(replica, opaque)  # introspected upstream, now cached
    event = logout("kafka-opaque", uid=1843000000000000009)
    receiver = cluster.replicas[2]

    cluster.tansu.stop()
    refused = post_event(receiver, event, "keycloak-1")
    assert refused.status_code == 503, refused.text
    # The emitter keeps the event; the other replicas have not heard of it.
    assert cluster.active(cluster.replicas[0], opaque)

    cluster.tansu.start()  # same port, empty: the emitter re-sends from its buffer
    started = time.monotonic()
    while (status := post_event(receiver, event, "keycloak-1").status_code) != 200:
        assert status == 503
        assert time.monotonic() - started < RECOVERY_BOUND_S, "Kafka never took the record"
        time.sleep(0.2)  # the emitter re-sends on its next event, not in a tight loop
    print(f"\nbroker back: first 200 after {time.monotonic() - started:.2f} s of retries")
    delays = cluster.inactive_everywhere_within(opaque, RECOVERY_BOUND_S, "retried event")
    print(f"then inactive on every replica after {max(delays):.2f} s")


@pytest.mark.parametrize(
    "broker", [pytest.param("kafka", marks=pytest.mark.realbroker)], indirect=True
)
def test_the_revocations_topic_is_made_to_keep_every_record_for_the_replay_window(
    cluster: Cluster,
) -> None:
    # The replicas' one shared memory of revocations: never compacted (two records of one
    # principal are both needed), kept at least a week, as many copies as the cluster has.
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.admin._config import ConfigResource  # not re-exported for mypy

    admin = AdminClient({"bootstrap.servers": cluster.tansu.bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, REVOCATIONS_TOPIC)
    configs = admin.describe_configs([resource])[resource].result(10)
    assert configs["cleanup.policy"].value == "delete"
    assert int(configs["retention.ms"].value) >= 7 * 86_400_000
    topic = admin.list_topics(REVOCATIONS_TOPIC, timeout=10).topics[REVOCATIONS_TOPIC]
    assert [len(p.replicas) for p in topic.partitions.values()] == [1]  # one broker here
