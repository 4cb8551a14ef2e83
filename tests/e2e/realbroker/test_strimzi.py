"""Strimzi kafka-oauth's introspection validator, in a real Apache Kafka 4.0, asking our sidecar.

JWT and opaque tokens from ``oauth_cb`` (configured by ``OAUTH_LOGIN_*`` only) produce and
consume; Strimzi's own ``oauth.valid.issuer.uri`` check passes on the ``iss`` the sidecar
answers with. Expired, revoked (at the IdP, and by a revocation event) and forged tokens
get ``invalid_token``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from oauthbearer import oauth_cb
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
    assert_invalid_token,
    broker_conf,
    forged,
    refusal,
    strimzi_properties,
)
from tests.support.idp import Idp
from tests.support.realkafka import RealKafka

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]

N = 20


@pytest.fixture(scope="module")
def strimzi(
    kafka_bundle: Path,
    rb_sidecar: SidecarHandle,
    idp: Idp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RealKafka]:
    broker = RealKafka(
        kafka_bundle,
        tmp_path_factory.mktemp("strimzi"),
        name="strimzi",
        plugin="strimzi",
        listener="SASL_PLAINTEXT",
        properties=strimzi_properties(rb_sidecar.url, idp.issuer),
    )
    broker.start()
    yield broker
    broker.stop()


@pytest.mark.parametrize("kind", ["jwt", "opaque"])
def test_tokens_from_oauth_cb_produce_and_consume(
    kind: Kind,
    idp: Idp,
    rb_sidecar: SidecarHandle,
    strimzi: RealKafka,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(idp, kind)
    mark = rb_sidecar.mark()
    topic = topic_name(f"strimzi-{kind}")
    delivered = produce(broker_conf(strimzi, oauth_cb), topic, N)
    values = consume(broker_conf(strimzi, oauth_cb), topic, N)
    assert delivered.errors == []
    assert sorted(values) == sorted(f"m{i}".encode() for i in range(N))
    decisions = rb_sidecar.decisions(mark)
    assert decisions, "Strimzi's validator never asked the sidecar"
    assert {d["caller"] for d in decisions} == {"strimzi-broker"}
    assert all(d["result"] == "active" for d in decisions)


def test_a_forged_jwt_is_invalid_token(idp: Idp, strimzi: RealKafka) -> None:
    token = idp.fetch_token("basic")["access_token"]
    assert_invalid_token(strimzi, forged(token))
    assert_invalid_token(strimzi, "garbage-nobody-issued")


def test_a_token_revoked_at_the_idp_is_invalid_token_once_the_cache_has_aged(
    idp: Idp, rb_sidecar: SidecarHandle, strimzi: RealKafka
) -> None:
    token = idp.fetch_token("opaque")["access_token"]
    assert refusal(strimzi, token) == ([], 1)  # active, and now cached by the sidecar
    idp.revoke(token)
    assert refusal(strimzi, token) == ([], 1)  # the cache's worst-case delay, by design
    assert rb_sidecar.clock is not None
    rb_sidecar.clock.advance(CACHE_TTL_S + 1)
    try:
        assert_invalid_token(strimzi, token)
    finally:
        rb_sidecar.clock.advance(-(CACHE_TTL_S + 1))


def test_a_token_revoked_by_a_keycloak_event_is_invalid_token_at_once(
    idp: Idp, rb_sidecar: SidecarHandle, strimzi: RealKafka
) -> None:
    token = idp.fetch_token("post")["access_token"]  # a JWT of kafka-post
    assert refusal(strimzi, token) == ([], 1)
    logout = {"type": "LOGOUT", "userId": "kafka-post", "uid": 42, "time": int(time.time() * 1000)}
    response = httpx.post(rb_sidecar.base + "/events/keycloak", json=logout, auth=EVENT_CALLER)
    assert response.json() == {"outcomes": ["applied"]}
    assert_invalid_token(strimzi, token)


def test_an_expired_token_is_invalid_token(
    idp: Idp, rb_sidecar: SidecarHandle, strimzi: RealKafka
) -> None:
    token = idp.fetch_token("basic")
    assert refusal(strimzi, token["access_token"]) == ([], 1)
    assert rb_sidecar.clock is not None
    # The sidecar's clock moves past exp (+ its 30 s skew); nobody sleeps.
    step = float(token["expires_in"]) + 31 + CACHE_TTL_S
    rb_sidecar.clock.advance(step)
    try:
        assert_invalid_token(strimzi, token["access_token"])
    finally:
        rb_sidecar.clock.advance(-step)
