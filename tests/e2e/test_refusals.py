"""Refused at the SASL step: a garbage token, and a revoked one once the cache has aged.

The client sees an ``_AUTHENTICATION`` error carrying ``invalid_token`` (Kafka's
OAUTHBEARER failure reply), every delivery fails, and nothing reaches the broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError

from oauthbearer import TokenProvider, make_oauth_cb, oauth_cb
from oauthbearer.client.confluent import default_provider
from oauthbearer.client.provider import TokenCache
from tests.e2e.conftest import (
    CACHE_TTL_S,
    SHAPES,
    FrontFor,
    InprocessSidecarFactory,
    Kind,
    Shape,
    SidecarHandle,
    consume,
    events_since,
    front_mark,
    kafka_conf,
    login_env,
    produce,
    topic_name,
)
from tests.support.idp import Idp
from tests.support.sasl_front import SaslFront

pytestmark = pytest.mark.e2e

REFUSED_TIMEOUT_MS = 1500  # how long a refused producer keeps its messages


def fixed_token(token: str) -> Callable[[str | None], tuple[str, float, str, dict[str, str]]]:
    def cb(_config: str | None) -> tuple[str, float, str, dict[str, str]]:
        return token, time.time() + 300, "mallory", {}

    return cb


def refused_conf(front: SaslFront, cb: Callable[..., Any], errors: list[KafkaError]) -> Any:
    return kafka_conf(
        front, cb, error_cb=errors.append, **{"message.timeout.ms": REFUSED_TIMEOUT_MS}
    )


def assert_authentication_refused(client_errors: list[KafkaError]) -> None:
    auth = [e for e in client_errors if e.code() == KafkaError._AUTHENTICATION]
    assert auth, f"no _AUTHENTICATION error reported: {client_errors}"
    assert all("invalid_token" in e.str() for e in auth), [e.str() for e in auth]


def fresh_jwt_cb(idp: Idp) -> Callable[..., Any]:
    """A valid reader with a token of its own (not the one under test)."""
    return make_oauth_cb(TokenProvider.from_env(login_env(idp, "jwt"), cache=TokenCache()))


@pytest.mark.parametrize("shape", SHAPES)
def test_garbage_token_is_refused_and_nothing_is_produced(
    shape: Shape, idp: Idp, sidecar: SidecarHandle, fronts: dict[Shape, SaslFront]
) -> None:
    front = fronts[shape]
    mark, decided = front_mark(front), sidecar.mark()
    client_errors: list[KafkaError] = []
    topic = topic_name("garbage")

    result = produce(
        refused_conf(front, fixed_token("garbage-nobody-issued"), client_errors), topic, 3
    )

    assert result.ok == []
    assert len(result.errors) == 3
    assert_authentication_refused(client_errors)
    assert events_since(front, mark, "auth_success") == []
    assert events_since(front, mark, "relay") == []  # no byte reached the broker
    assert events_since(front, mark, "auth_failure")
    [decision, *_] = sidecar.wait_decisions(decided, 1)
    assert decision["result"] == "inactive"
    assert consume(kafka_conf(front, fresh_jwt_cb(idp)), topic, 0, settle=1) == []


def test_revoked_opaque_token_is_refused_on_a_new_connection_after_the_cache_ttl(
    idp: Idp,
    inprocess_sidecar: InprocessSidecarFactory,
    front_for: FrontFor,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    sidecar = inprocess_sidecar(idp)
    assert sidecar.clock is not None
    front = front_for(sidecar, "strimzi", idp)
    use_login_env(idp, "opaque")
    topic = topic_name("revoked")

    # 1. Fetched and used once: accepted (the sidecar asked the authorization server).
    first = produce(kafka_conf(front, oauth_cb), topic, 3, prefix="before")
    assert first.errors == []
    assert len(first.ok) == 3
    token = default_provider().current()
    assert token is not None
    assert [d["source"] for d in sidecar.decisions()][:1] == ["upstream"]

    # 2. Revoked at the authorization server.
    idp.revoke(token.access_token)
    assert idp.introspect(token.access_token) == {"active": False}

    # 3. Within OAUTHBEARER_CACHE_TTL a new connection is still let in from the cache:
    #    the TTL is the documented worst-case delay before a revocation takes effect.
    decided = sidecar.mark()
    still = produce(kafka_conf(front, oauth_cb), topic, 1, prefix="within-ttl")
    assert still.errors == []
    assert {d["source"] for d in sidecar.decisions(decided)} == {"cache"}

    # 4. Once the cached verdict has aged past the TTL, a new connection is refused.
    sidecar.clock.advance(CACHE_TTL_S + 1)
    mark, decided = front_mark(front), sidecar.mark()
    client_errors: list[KafkaError] = []
    refused = produce(refused_conf(front, oauth_cb, client_errors), topic, 2, prefix="after")

    assert refused.ok == []
    assert len(refused.errors) == 2
    assert_authentication_refused(client_errors)
    assert events_since(front, mark, "auth_success") == []
    assert events_since(front, mark, "relay") == []
    [decision, *_] = sidecar.decisions(decided)
    assert (decision["result"], decision["source"]) == ("inactive", "upstream")
    assert default_provider().current() is token  # the client still holds the revoked one

    # Only what was produced before the refusal is in the topic.
    values = consume(kafka_conf(front, fresh_jwt_cb(idp)), topic, 4, settle=1)
    assert sorted(values) == [b"before0", b"before1", b"before2", b"within-ttl0"]
