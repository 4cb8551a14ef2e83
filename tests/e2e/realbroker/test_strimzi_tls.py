"""Strimzi's real introspection validator calling the sidecar over HTTPS.

The broker trusts the sidecar's (throwaway) CA through ``oauth.ssl.truststore.location``
with ``oauth.ssl.truststore.type=PEM``, and checks the certificate's name as it does by
default (``oauth.ssl.endpoint.identification.algorithm`` HTTPS): the sidecar's certificate
names 127.0.0.1. A JWT from ``oauth_cb`` produces and consumes; a forged one is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from oauthbearer import oauth_cb
from tests.e2e.conftest import Kind, consume, produce, topic_name
from tests.e2e.realbroker.conftest import assert_invalid_token, broker_conf, forged
from tests.support.https_sidecar import CALLER, Served, serve_https, write_pair
from tests.support.idp import Idp
from tests.support.realkafka import RealKafka, strimzi_introspection

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]

N = 10


@pytest.fixture(scope="module")
def https_sidecar(idp: Idp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("https-sidecar")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    write_pair(ca.issue_cert("127.0.0.1"), directory)
    yield from serve_https(idp, directory)


@pytest.fixture(scope="module")
def strimzi_tls(
    kafka_bundle: Path,
    https_sidecar: Served,
    idp: Idp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RealKafka]:
    truststore = https_sidecar.log.parent / "ca.pem"
    broker = RealKafka(
        kafka_bundle,
        tmp_path_factory.mktemp("strimzi-tls"),
        name="strimzi-tls",
        plugin="strimzi",
        listener="SASL_PLAINTEXT",
        properties=strimzi_introspection(
            f"{https_sidecar.url}/oauth2/introspect",
            idp.issuer,
            *CALLER,
            **{
                "oauth.ssl.truststore.location": str(truststore),
                "oauth.ssl.truststore.type": "PEM",
            },
        ),
    )
    broker.start()
    yield broker
    broker.stop()


def test_strimzi_asks_the_sidecar_over_https(
    idp: Idp,
    https_sidecar: Served,
    strimzi_tls: RealKafka,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(idp, "jwt")
    topic = topic_name("strimzi-tls")
    delivered = produce(broker_conf(strimzi_tls, oauth_cb), topic, N)
    values = consume(broker_conf(strimzi_tls, oauth_cb), topic, N)
    assert delivered.errors == []
    assert sorted(values) == sorted(f"m{i}".encode() for i in range(N))
    decisions = https_sidecar.decisions()
    assert decisions, "Strimzi never reached the sidecar over HTTPS"
    assert {d["caller"] for d in decisions} == {CALLER[0]}

    assert_invalid_token(strimzi_tls, forged(idp.fetch_token("basic")["access_token"]))
