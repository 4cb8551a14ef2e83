"""aiokafka and kafka-python, with our adapters, through the same path as librdkafka.

client adapter (env-configured default provider) -> SASL front -> sidecar -> IdP (JWKS).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaProducer
from kafka import KafkaProducer

from oauthbearer import oauth_cb
from oauthbearer.client.aiokafka import AiokafkaTokenProvider
from oauthbearer.client.confluent import default_provider
from oauthbearer.client.kafka_python import KafkaPythonTokenProvider
from tests.e2e.conftest import (
    TIMEOUT_S,
    Kind,
    Shape,
    SidecarHandle,
    consume,
    events_since,
    front_mark,
    kafka_conf,
    topic_name,
)
from tests.support.idp import Idp
from tests.support.sasl_front import SaslFront

pytestmark = pytest.mark.e2e

N = 5


def check_path(front: SaslFront, mark: int, sidecar: SidecarHandle, decided: int) -> None:
    successes = events_since(front, mark, "auth_success")
    assert successes
    assert {e.detail["principal"] for e in successes} == {"kafka-basic"}
    assert events_since(front, mark, "auth_failure") == []
    decisions = sidecar.wait_decisions(decided, len(successes))
    assert decisions
    assert {d["result"] for d in decisions} == {"active"}
    assert decisions[0]["source"] == "jwks"


async def test_aiokafka_adapter_produces_through_front_sidecar_and_idp(
    idp: Idp,
    sidecar: SidecarHandle,
    fronts: dict[Shape, SaslFront],
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(idp, "jwt")
    front = fronts["strimzi"]
    mark, decided = front_mark(front), sidecar.mark()
    fetches_before = default_provider().fetch_count
    tokens = AiokafkaTokenProvider()  # the environment-built default provider
    topic = topic_name("aiokafka")
    producer = AIOKafkaProducer(
        bootstrap_servers=front.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=tokens,
        request_timeout_ms=10000,
    )
    await asyncio.wait_for(producer.start(), TIMEOUT_S)
    try:
        for i in range(N):
            await asyncio.wait_for(producer.send_and_wait(topic, f"a{i}".encode()), TIMEOUT_S)
    finally:
        await asyncio.wait_for(producer.stop(), TIMEOUT_S)

    assert tokens.provider is default_provider()
    assert default_provider().fetch_count - fetches_before == 1
    check_path(front, mark, sidecar, decided)
    values = await asyncio.to_thread(consume, kafka_conf(front, oauth_cb), topic, N)
    assert sorted(values) == [f"a{i}".encode() for i in range(N)]


def test_kafka_python_adapter_produces_through_front_sidecar_and_idp(
    idp: Idp,
    sidecar: SidecarHandle,
    fronts: dict[Shape, SaslFront],
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(idp, "jwt")
    front = fronts["jairsjunior"]
    mark, decided = front_mark(front), sidecar.mark()
    fetches_before = default_provider().fetch_count
    tokens = KafkaPythonTokenProvider()
    topic = topic_name("kafka-python")
    producer = KafkaProducer(
        bootstrap_servers=front.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=tokens,
        request_timeout_ms=10000,
    )
    try:
        for i in range(N):
            producer.send(topic, f"k{i}".encode()).get(timeout=TIMEOUT_S)
    finally:
        producer.close(timeout=5)

    assert tokens.provider is default_provider()
    assert default_provider().fetch_count - fetches_before == 1
    check_path(front, mark, sidecar, decided)
    values = consume(kafka_conf(front, oauth_cb), topic, N)
    assert sorted(values) == [f"k{i}".encode() for i in range(N)]
