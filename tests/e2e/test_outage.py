"""Authorization server down while the client's opaque token is still valid.

Existing connections carry on (the broker authenticated them already); new connections
are let in from the sidecar's cache while the cached verdict lasts; past
``OAUTHBEARER_CACHE_TTL`` the sidecar cannot judge the token and answers 503, which the
broker's plugin (jairsjunior's: only 200 is success) turns into a refusal.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from confluent_kafka import KafkaError, Producer

from oauthbearer import oauth_cb
from oauthbearer.client.confluent import default_provider
from tests.e2e.conftest import (
    CACHE_TTL_S,
    TIMEOUT_S,
    Deliveries,
    FrontFor,
    InprocessSidecarFactory,
    Kind,
    events_since,
    front_mark,
    kafka_conf,
    produce,
    topic_name,
)
from tests.support.idp import Idp, IdpFactory
from tests.support.sasl_front import SaslFront

pytestmark = pytest.mark.e2e


def send(producer: Producer, topic: str, prefix: str, count: int) -> Deliveries:
    result = Deliveries()
    for i in range(count):
        producer.produce(topic, value=f"{prefix}{i}".encode(), on_delivery=result)
    assert producer.flush(TIMEOUT_S) == 0
    return result


def refused_by_503(front: SaslFront, cb: Callable[..., object], topic: str) -> None:
    """A new connection with this token is refused, the sidecar having answered 503."""
    mark = front_mark(front)
    client_errors: list[KafkaError] = []
    started = time.monotonic()
    refused = produce(
        kafka_conf(front, cb, error_cb=client_errors.append, **{"message.timeout.ms": 1500}),
        topic,
        1,
        prefix="refused",
    )
    assert refused.ok == []
    assert len(refused.errors) == 1
    auth = [e for e in client_errors if e.code() == KafkaError._AUTHENTICATION]
    assert auth, client_errors
    assert "invalid_token" in auth[0].str()
    statuses = [e.detail["status"] for e in events_since(front, mark, "introspection")]
    assert statuses
    assert set(statuses) == {503}
    failures = events_since(front, mark, "auth_failure")
    assert failures
    assert {e.detail["reason"] for e in failures} == {"Return code 503"}
    assert events_since(front, mark, "auth_success") == []
    assert time.monotonic() - started < 10  # refused promptly, not after peers' 60 s


def test_outage_existing_connections_continue_cache_serves_then_503(
    idp_factory: IdpFactory,
    inprocess_sidecar: InprocessSidecarFactory,
    front_for: FrontFor,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    idp = idp_factory()
    sidecar = inprocess_sidecar(idp)
    assert sidecar.clock is not None
    front = front_for(sidecar, "jairsjunior", idp)
    use_login_env(idp, "opaque")
    never_shown = idp.fetch_token("opaque")["access_token"]  # valid, never sent to the sidecar
    topic = topic_name("outage")

    live = Producer(kafka_conf(front, oauth_cb))
    assert send(live, topic, "before", 5).errors == []
    token = default_provider().current()
    assert token is not None
    # Judged once upstream; the producer's other connection was answered from the cache.
    assert [d["source"] for d in sidecar.decisions()][:1] == ["upstream"]
    assert {d["result"] for d in sidecar.decisions()} == {"active"}

    idp.stop()
    assert not idp.running

    # 1. Traffic on the existing connection continues: no new session was needed.
    mark, decided = front_mark(front), sidecar.mark()
    during = send(live, topic, "during", 5)
    assert during.errors == []
    assert len(during.ok) == 5
    assert events_since(front, mark, "auth_attempt") == []
    assert sidecar.decisions(decided) == []

    # 2. New connections with the same (cached) token are accepted from the sidecar's cache.
    mark, decided = front_mark(front), sidecar.mark()
    fresh = produce(kafka_conf(front, oauth_cb), topic, 3, prefix="cached")
    assert fresh.errors == []
    assert len(fresh.ok) == 3
    assert events_since(front, mark, "auth_success")
    decisions = sidecar.decisions(decided)
    assert decisions
    assert {(d["result"], d["source"]) for d in decisions} == {("active", "cache")}

    # 3. A valid token the sidecar has never seen cannot be judged: 503, refused.
    decided = sidecar.mark()
    refused_by_503(front, lambda _c: (never_shown, time.time() + 300, "kafka-opaque", {}), topic)
    assert {d["result"] for d in sidecar.decisions(decided)} == {"unavailable"}

    # 4. Past OAUTHBEARER_CACHE_TTL the client's own token is no longer cached: 503, refused
    #    (the client still holds it, valid for minutes: it is the IdP that is missing).
    sidecar.clock.advance(CACHE_TTL_S + 1)
    decided = sidecar.mark()
    refused_by_503(front, oauth_cb, topic)
    assert default_provider().current() is token
    assert {(d["result"], d["source"]) for d in sidecar.decisions(decided)} == {
        ("unavailable", "upstream")
    }
    counters = sidecar.counters()
    assert counters.requests[("unavailable", "upstream")] >= 2
    ready = httpx.get(sidecar.base + "/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"]["upstream"] is False

    # 5. The connection authenticated before the outage still works.
    after = send(live, topic, "after", 2)
    assert after.errors == []
    assert len(after.ok) == 2
