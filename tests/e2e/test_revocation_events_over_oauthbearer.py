"""The sidecar's revocation consumer logs in to Kafka with SASL/OAUTHBEARER and our oauth_cb.

``OAUTHBEARER_EVENTS_OAUTH=true``: the events consumer (real librdkafka, inside the sidecar)
takes its token from the package's own ``oauth_cb``, configured by the process's
``OAUTH_LOGIN_*`` variables, and reads the identity provider's topic through the SASL
front, which validates that token by asking another sidecar — the deployment where the
event topic lives on the same OAuth-secured cluster as everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from confluent_kafka import Producer

from oauthbearer import TokenProvider, make_oauth_cb
from oauthbearer.client.provider import TokenCache
from tests.e2e.conftest import (
    STRIMZI_CALLER,
    TIMEOUT_S,
    FrontFor,
    InprocessSidecarFactory,
    Kind,
    SidecarHandle,
    events_since,
    front_mark,
    kafka_conf,
    login_env,
    topic_name,
    wait_until,
)
from tests.integration.test_revocation_kafka import fusionauth_event
from tests.support.idp import Idp
from tests.support.sasl_front import SaslFront

pytestmark = pytest.mark.e2e


def publish(front: SaslFront, idp: Idp, topic: str, *values: bytes) -> None:
    """Produce as kafka-post, so the front's logins as kafka-basic are the consumer's."""
    provider = TokenProvider.from_env(idp.env_for("post"), cache=TokenCache())
    try:
        producer = Producer(kafka_conf(front, make_oauth_cb(provider), **{"linger.ms": 0}))
        for value in values:
            producer.produce(topic, value=value)
        assert producer.flush(TIMEOUT_S) == 0, "events not delivered"
    finally:
        provider.close()


def active(sidecar: SidecarHandle, token: str) -> bool:
    response = httpx.post(sidecar.url, data={"token": token}, auth=STRIMZI_CALLER, timeout=5)
    assert response.status_code == 200, response.text
    result: bool = response.json()["active"]
    return result


def test_events_consumer_logs_in_with_our_oauth_cb_and_applies_revocations(
    idp: Idp,
    inprocess_sidecar: InprocessSidecarFactory,
    front_for: FrontFor,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(idp, "jwt")  # the consumer's identity: kafka-basic, from OAUTH_LOGIN_*
    judge = inprocess_sidecar(idp)  # what the front asks about every login
    front = front_for(judge, "strimzi", idp)
    topic = topic_name("identity-events")
    publish(front, idp, topic, fusionauth_event("user.delete", "e-0", user={"id": "someone-else"}))

    mark = front_mark(front)
    events: dict[str, Any] = {
        "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": front.bootstrap,
        "OAUTHBEARER_EVENTS_TOPIC": topic,
        "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "OAUTHBEARER_EVENTS_SASL_MECHANISM": "OAUTHBEARER",
        "OAUTHBEARER_EVENTS_OAUTH": "true",
        "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME": "3600",
        # The sidecar's environment holds the consumer's login block too, as a deployed
        # sidecar's does: its settings check it at start-up.
        **login_env(idp, "jwt"),
    }
    watched = inprocess_sidecar(idp, **events)  # returns once /readyz: the replay is done

    opaque = idp.fetch_token("opaque")["access_token"]
    assert active(watched, opaque)  # judged upstream, now cached for a minute
    publish(
        front, idp, topic, fusionauth_event("user.deactivate", "e-1", user={"id": "kafka-opaque"})
    )
    wait_until(lambda: not active(watched, opaque), 10, "the revocation read over OAUTHBEARER")

    # The consumer got in through the front with a token from our oauth_cb, as kafka-basic.
    logins = events_since(front, mark, "auth_success")
    assert "kafka-basic" in {e.detail["principal"] for e in logins}
    assert events_since(front, mark, "auth_failure") == []
