"""Token refresh on a long session: tokens living 8 s, a producer running 24 s (3 lifetimes).

This is the one e2e test that takes real time: refresh is a property of the wall clock
(librdkafka's refresh timer, the IdP's token lifetime, the broker's session expiry).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaError, Producer

from oauthbearer import oauth_cb
from oauthbearer.client.confluent import default_provider
from tests.e2e.conftest import (
    Deliveries,
    FrontFor,
    InprocessSidecarFactory,
    Kind,
    consume,
    kafka_conf,
    topic_name,
)
from tests.support.idp import Idp, IdpFactory

pytestmark = pytest.mark.e2e

TOKEN_TTL_S = 8
RUN_S = 24.0
INTERVAL_S = 0.05


def test_producer_keeps_delivering_across_token_refreshes(
    idp_factory: IdpFactory,
    inprocess_sidecar: InprocessSidecarFactory,
    front_for: FrontFor,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    idp = idp_factory(access_token_ttl=TOKEN_TTL_S)
    sidecar = inprocess_sidecar(idp)
    # Strimzi's validator refuses a token at or past its exp, and the front closes a
    # connection on its first request after the session lifetime (exp - now).
    front = front_for(sidecar, "strimzi", idp)
    use_login_env(idp, "jwt")
    fetches_before = default_provider().fetch_count
    topic = topic_name("refresh")
    client_errors: list[KafkaError] = []
    delivered = Deliveries()

    producer = Producer(
        kafka_conf(front, oauth_cb, error_cb=client_errors.append, **{"linger.ms": 5})
    )
    first = default_provider().current()
    assert first is not None
    assert first.lifetime <= TOKEN_TTL_S
    sent = 0
    started = time.monotonic()
    while time.monotonic() - started < RUN_S:
        producer.produce(topic, value=f"r{sent}".encode(), on_delivery=delivered)
        sent += 1
        producer.poll(INTERVAL_S)  # serves delivery reports; paces ~20 messages/s
    assert producer.flush(20) == 0

    # Every message delivered, none failed, no client-side error at all.
    assert delivered.errors == []
    assert len(delivered.ok) == sent
    assert sent >= RUN_S / INTERVAL_S / 2
    assert [e for e in client_errors if e.code() == KafkaError._AUTHENTICATION] == []

    # The provider refreshed before expiry: three lifetimes of tokens need at least 3 tokens.
    fetches = default_provider().fetch_count - fetches_before
    assert fetches >= 3
    # token(), not current(): current() is None inside a refresh window, which would
    # make this check depend on where in a token's life the run happens to end.
    latest = default_provider().token()
    assert latest.access_token != first.access_token
    assert latest.expires_at > first.expires_at + 2 * TOKEN_TTL_S

    # The broker side saw each new token on a live session, never a refusal or an expiry.
    assert front.of("auth_failure") == []
    assert front.of("session_expired") == []
    successes = front.of("auth_success")
    renewed = [e for e in successes if e.detail["reauth"]]
    assert len(renewed) >= 2, successes  # KIP-368 re-authentications on open connections
    assert {e.detail["principal"] for e in successes} == {"kafka-basic"}
    assert all(0 < e.detail["session_lifetime_ms"] <= TOKEN_TTL_S * 1000 for e in successes)
    judged = [d for d in sidecar.decisions() if d["source"] == "jwks"]
    assert {d["result"] for d in sidecar.decisions()} == {"active"}
    assert len({d["token"] for d in judged}) >= 3  # distinct tokens, each verified once

    # And the broker holds exactly what was sent (order is per partition only).
    values = consume(kafka_conf(front, oauth_cb), topic, sent, settle=0.5)
    assert sorted(values) == sorted(f"r{i}".encode() for i in range(sent))
