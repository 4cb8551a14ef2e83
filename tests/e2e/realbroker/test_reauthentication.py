"""KIP-368 re-authentication on a real broker: tokens of 20 s, one producer for 90 s.

Strimzi's validator in Apache Kafka 4.0 with ``connections.max.reauth.ms`` set: the broker
gives each session a lifetime (at most the token's), librdkafka refreshes the token at
80 % of its life through our ``oauth_cb`` and re-authenticates the connection it has. Every
message is delivered; the broker's log shows far more authentications than librdkafka
opened connections — re-authentications, not reconnects.

This test runs in real time by design (a real broker, real token lifetimes); it waits for
nothing to expire, it produces throughout. The run itself (tests/e2e/realbroker/reauth.py)
starts with the tier's first test and produces while the other modules run; this test
collects what it saw.
"""

from __future__ import annotations

import pytest

from tests.e2e.realbroker.reauth import RATE_HZ, REAUTH_MS, RUN_S, ReauthRun

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]

AUTHENTICATED = "Authentication complete"


def test_a_producer_lives_through_token_refreshes_by_re_authenticating(
    reauth_run: ReauthRun,
) -> None:
    outcome = reauth_run.result()

    assert outcome.sent >= RUN_S * RATE_HZ * 0.9
    assert outcome.undelivered_after_flush == 0
    assert outcome.delivered == outcome.sent, (
        f"{outcome.sent - outcome.delivered} of {outcome.sent} not delivered"
    )
    refreshes = outcome.fetches - 1
    assert refreshes >= 3, f"only {refreshes} token refreshes in {RUN_S} s"
    log = [line for line in reauth_run.broker.log_text().splitlines() if AUTHENTICATED in line]
    connections = sum(outcome.connects.values())
    # Each session lasts at most REAUTH_MS, so each connection authenticates again about
    # every REAUTH_MS; far more authentications than connections is KIP-368 at work.
    assert 1 <= connections <= 4, outcome.connects
    reauthentications = len(log) - connections
    assert reauthentications >= RUN_S * 1000 // REAUTH_MS - 2, (len(log), connections)
    # The broker saw the refreshed tokens: each line names its credential's expiration.
    expirations = {line.split("credential expiration=")[1].split(" ")[0] for line in log}
    assert len(expirations) >= 4, expirations
    print(
        f"\n{outcome.sent} messages, {refreshes} refreshes, {connections} connections, "
        f"{len(log)} authentications on the broker"
    )
