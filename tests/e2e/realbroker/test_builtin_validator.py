"""Kafka's own JWT validator (KIP-768), no plugin and no sidecar: only our ``oauth_cb``.

Tokens our client fetched from the real authorization server are accepted by the broker's
built-in JWKS validation; a tampered one is refused with RFC 7628's ``invalid_token``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from oauthbearer import oauth_cb
from tests.e2e.conftest import Kind, consume, produce, topic_name
from tests.e2e.realbroker.conftest import assert_invalid_token, broker_conf, forged
from tests.support.idp import JWT_RESOURCE, Idp
from tests.support.realkafka import JAAS_MODULE, LISTENER, SASL_BASE, RealKafka

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]

N = 10


@pytest.fixture(scope="module")
def builtin(
    kafka_bundle: Path, idp: Idp, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealKafka]:
    broker = RealKafka(
        kafka_bundle,
        tmp_path_factory.mktemp("builtin"),
        name="builtin",
        listener="SASL_PLAINTEXT",
        properties={
            **SASL_BASE,
            f"{LISTENER}.oauthbearer.sasl.server.callback.handler.class": (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
            ),
            f"{LISTENER}.oauthbearer.sasl.jaas.config": f"{JAAS_MODULE} ;",
            "sasl.oauthbearer.jwks.endpoint.url": idp.jwks_url,
            "sasl.oauthbearer.expected.issuer": idp.issuer,
            "sasl.oauthbearer.expected.audience": JWT_RESOURCE,
        },
        # Kafka >= 4.0 refuses to fetch any URL not listed here.
        jvm_flags=("-Xmx512m", f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={idp.jwks_url}"),
    )
    broker.start()
    yield broker
    broker.stop()


def test_tokens_our_client_fetched_are_accepted(
    idp: Idp, builtin: RealKafka, use_login_env: Callable[[Idp, Kind], None]
) -> None:
    use_login_env(idp, "jwt")
    topic = topic_name("builtin")
    delivered = produce(broker_conf(builtin, oauth_cb), topic, N)
    values = consume(broker_conf(builtin, oauth_cb), topic, N)
    assert delivered.errors == []
    assert sorted(values) == sorted(f"m{i}".encode() for i in range(N))


def test_a_tampered_token_is_refused(idp: Idp, builtin: RealKafka) -> None:
    assert_invalid_token(builtin, forged(idp.fetch_token("basic")["access_token"]))
