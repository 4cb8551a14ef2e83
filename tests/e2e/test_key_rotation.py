"""Signing-key rotation: the authorization server restarts with a new key on the same port.

A token signed by the new key names a ``kid`` the sidecar has not seen: it refetches the
JWKS once (rate-limited) and verifies the token. That refetch no longer holds the old key
(the IdP here dropped it outright), so a token signed by it:

* is refused on a new connection at once: the verdict cached for it before the rotation
  left the cache with its key (a withdrawn key may be a compromised one), and its ``kid``
  is in no JWKS, so the sidecar answers inactive (an IdP that keeps publishing the old
  key would keep its tokens valid);
* connections authenticated earlier carry on until their session ends (the broker's
  re-authentication, KIP-368, is what ends them).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import KafkaError, Producer

from oauthbearer import oauth_cb
from oauthbearer.client.confluent import default_provider, reset_default_provider
from oauthbearer.client.provider import SHARED_CACHE
from tests.e2e.conftest import (
    CACHE_TTL_S,
    TIMEOUT_S,
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

pytestmark = pytest.mark.e2e


def kid_of(token: str) -> str:
    header = token.split(".", 1)[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    )
    kid = decoded["kid"]
    assert isinstance(kid, str)
    return kid


def fixed(token: str) -> Callable[[str | None], tuple[str, float, str, dict[str, str]]]:
    def cb(_config: str | None) -> tuple[str, float, str, dict[str, str]]:
        return token, time.time() + 250, "kafka-basic", {}

    return cb


def test_new_key_verifies_after_jwks_refetch_and_old_key_tokens_age_out(
    idp_factory: IdpFactory,
    inprocess_sidecar: InprocessSidecarFactory,
    front_for: FrontFor,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    idp = idp_factory()
    sidecar = inprocess_sidecar(idp)
    assert sidecar.clock is not None
    front = front_for(sidecar, "strimzi", idp)
    use_login_env(idp, "jwt")
    topic = topic_name("rotation")

    live = Producer(kafka_conf(front, oauth_cb))
    live.produce(topic, b"old-key-0")
    assert live.flush(TIMEOUT_S) == 0
    old = default_provider().current()
    assert old is not None
    old_kid, port = idp.kid, idp.port
    assert kid_of(old.access_token) == old_kid

    # Rotation: same issuer and port, a new signing key, the old one gone from the JWKS.
    idp.restart()
    assert (idp.port, idp.kid != old_kid) == (port, True)
    reset_default_provider()
    SHARED_CACHE.clear()
    before, decided = sidecar.counters(), sidecar.mark()

    # A token signed by the new key: unknown kid -> one JWKS refetch -> verified.
    accepted = produce(kafka_conf(front, oauth_cb), topic, 3, prefix="new-key-")
    assert accepted.errors == []
    assert len(accepted.ok) == 3
    new = default_provider().current()
    assert new is not None
    assert kid_of(new.access_token) == idp.kid
    delta = sidecar.counters() - before
    assert delta.jwks_refreshes["ok"] == 1  # bounded: one refetch, however many connections
    assert delta.upstream_calls == 0
    first_new = sidecar.decisions(decided)[0]
    assert (first_new["result"], first_new["source"]) == ("active", "jwks")

    # The old-key token on a new connection: refused at once, not served from the cache
    # where its verdict sat before the rotation (that verdict left with its key).
    mark, decided = front_mark(front), sidecar.mark()
    client_errors: list[KafkaError] = []
    refused = produce(
        kafka_conf(
            front,
            fixed(old.access_token),
            error_cb=client_errors.append,
            **{"message.timeout.ms": 1500},
        ),
        topic,
        1,
        prefix="old-refused-",
    )
    assert refused.ok == []
    assert any(
        e.code() == KafkaError._AUTHENTICATION and "invalid_token" in e.str() for e in client_errors
    )
    assert events_since(front, mark, "auth_success") == []
    [verdict, *_] = sidecar.decisions(decided)
    assert (verdict["result"], verdict["source"]) == ("inactive", "jwks")
    assert f"no key for kid {old_kid!r}" in verdict["reason"]

    # Past the TTL the unknown-kid refetch is allowed again; it does not bring the old key
    # back, and the old token stays refused.
    sidecar.clock.advance(CACHE_TTL_S + 1)
    mark, decided, before = front_mark(front), sidecar.mark(), sidecar.counters()
    again_refused = produce(
        kafka_conf(front, fixed(old.access_token), **{"message.timeout.ms": 1500}),
        topic,
        1,
        prefix="old-refused-again-",
    )
    assert again_refused.ok == []
    assert events_since(front, mark, "auth_success") == []
    assert sidecar.decisions(decided)[0]["result"] == "inactive"
    assert (sidecar.counters() - before).jwks_refreshes["ok"] == 1

    # The new-key token, re-verified after the TTL, still passes; so does the connection
    # that authenticated with the old key before the rotation (until its session ends).
    decided = sidecar.mark()
    again = produce(kafka_conf(front, oauth_cb), topic, 1, prefix="new-key-again-")
    assert again.errors == []
    assert sidecar.decisions(decided)[0]["source"] == "jwks"
    live.produce(topic, b"old-key-1")
    assert live.flush(TIMEOUT_S) == 0
