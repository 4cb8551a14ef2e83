"""confluent-kafka configured only by the OAUTH_LOGIN_* environment and ``oauth_cb``.

Producer and Consumer through the SASL front, both request shapes, a JWT (the sidecar
verifies it against the JWKS, no upstream call) and an opaque token (the sidecar asks the
authorization server once, then answers from its cache).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from oauthbearer import oauth_cb
from oauthbearer.client.confluent import default_provider
from tests.e2e.conftest import (
    SHAPES,
    FrontFor,
    Kind,
    Shape,
    SidecarHandle,
    consume,
    events_since,
    front_mark,
    kafka_conf,
    principal_of,
    produce,
    topic_name,
)
from tests.support.idp import Idp
from tests.support.sasl_front import SaslFront

pytestmark = pytest.mark.e2e

N = 30


@pytest.mark.parametrize("kind", ["jwt", "opaque"])
@pytest.mark.parametrize("shape", SHAPES)
def test_produce_and_consume_with_env_configured_oauth_cb(
    shape: Shape,
    kind: Kind,
    idp: Idp,
    sidecar: SidecarHandle,
    fronts: dict[Shape, SaslFront],
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    use_login_env(idp, kind)
    front = fronts[shape]
    mark, decided, before = front_mark(front), sidecar.mark(), sidecar.counters()
    # fetch_count counts per identity for the whole process; the token cache is empty.
    fetches_before = default_provider().fetch_count
    topic = topic_name(f"{shape}-{kind}")

    delivered = produce(kafka_conf(front, oauth_cb), topic, N)
    values = consume(kafka_conf(front, oauth_cb), topic, N)

    assert delivered.errors == []
    assert len(delivered.ok) == N
    assert sorted(values) == sorted(f"m{i}".encode() for i in range(N))

    # One token, fetched once, for both clients.
    provider = default_provider()
    token = provider.current()
    assert token is not None
    assert provider.fetch_count - fetches_before == 1
    assert bool(token.claims) == (kind == "jwt")  # a JWT has readable claims, opaque none

    # The front: every connection authenticated as the token's subject, none refused.
    successes = events_since(front, mark, "auth_success")
    assert len(successes) >= 2  # at least one connection per client
    assert {e.detail["principal"] for e in successes} == {principal_of(kind)}
    lifetime_ms = (token.expires_at - time.time()) * 1000
    for event in successes:
        # exp - now at the broker: the token's 300 s, never 0 (1970) nor milliseconds-large
        assert 0 < event.detail["session_lifetime_ms"] <= 300_000
        assert event.detail["session_lifetime_ms"] >= lifetime_ms - 5_000
    assert events_since(front, mark, "auth_failure") == []
    assert {e.detail["status"] for e in events_since(front, mark, "introspection")} == {200}

    # The sidecar: who decided. Every introspection answered, all active; the JWT was
    # verified locally, the opaque token cost exactly one upstream call (single flight,
    # then the cache), however many connections the two clients opened.
    delta = sidecar.counters() - before
    introspections = len(events_since(front, mark, "introspection"))
    assert sum(delta.requests.values()) == introspections
    assert {result for result, _source in delta.requests} == {"active"}
    assert delta.requests[("active", "cache")] >= 1
    if kind == "jwt":
        assert delta.requests[("active", "jwks")] >= 1
        assert delta.upstream_calls == 0  # the IdP was not asked
    else:
        assert delta.requests[("active", "upstream")] >= 1
        assert delta.upstream_calls == 1
    decisions = sidecar.wait_decisions(decided, introspections)
    assert {d["sub"] for d in decisions} == {principal_of(kind)}
    assert {d["result"] for d in decisions} == {"active"}


def test_jairsjunior_on_kafka_3_3_gets_the_right_session_lifetime_from_the_ms_path(
    idp: Idp,
    sidecar: SidecarHandle,
    front_for: FrontFor,
    use_login_env: Callable[[Idp, Kind], None],
) -> None:
    """KAFKA-13848: jairsjunior hands ``exp`` (s) to Kafka as ms; the ms path undoes it."""
    use_login_env(idp, "jwt")
    # The front reproduces the bug: exp is taken as milliseconds.
    buggy = front_for(sidecar, "jairsjunior", idp, exp_as_ms=True)
    fixed = front_for(sidecar, "jairsjunior", idp, url=sidecar.ms_url, exp_as_ms=True)

    # Through the RFC 7662 path the session "ended in 1970": dropped at the first request.
    refused = produce(
        kafka_conf(buggy, oauth_cb, **{"message.timeout.ms": 1500}), topic_name("ms-bug"), 1
    )
    assert len(refused.errors) == 1
    assert {e.detail["session_lifetime_ms"] for e in buggy.of("auth_success")} == {0}
    assert buggy.of("session_expired")

    # Through /oauth2/introspect/jairsjunior-ms the same handler computes the real lifetime.
    topic = topic_name("ms-fixed")
    delivered = produce(kafka_conf(fixed, oauth_cb), topic, N)
    assert delivered.errors == []
    assert sorted(consume(kafka_conf(fixed, oauth_cb), topic, N)) == sorted(
        f"m{i}".encode() for i in range(N)
    )
    token = default_provider().current()
    assert token is not None
    remaining_ms = (token.expires_at - time.time()) * 1000
    successes = fixed.of("auth_success")
    assert successes
    for event in successes:
        assert event.detail["principal"] == "kafka-basic"
        # the token's real remaining lifetime (~300 s), in milliseconds
        assert remaining_ms - 5_000 <= event.detail["session_lifetime_ms"] <= 300_000
    assert fixed.of("session_expired") == []
    assert fixed.of("auth_failure") == []
