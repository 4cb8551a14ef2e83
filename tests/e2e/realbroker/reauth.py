"""The KIP-368 run of test_reauthentication.py: one producer for 90 s, in a thread.

Ninety seconds of real time is what the run needs (tokens of 20 s, sessions of 10 s), and
nothing in it waits on the rest of the tier: the realbroker conftest starts it when the
tier's first test runs, the other modules run meanwhile, and the test collects the
outcome. Everything it uses is its own: its authorization server (20 s tokens), sidecar,
broker, and a token provider built from the ``OAUTH_LOGIN_*`` variables as a mapping
(not the process-wide ``oauth_cb``, whose environment the other tests change).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from oauthbearer.client.confluent import make_oauth_cb
from oauthbearer.client.provider import TokenProvider
from tests.e2e.conftest import topic_name
from tests.e2e.realbroker.conftest import broker_conf
from tests.support.realkafka import RealKafka

TOKEN_TTL_S = 20
REAUTH_MS = 10_000
RUN_S = 90.0
RATE_HZ = 20


class Stats:
    """librdkafka's statistics: how many TCP connections each broker handle opened."""

    def __init__(self) -> None:
        self.connects: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, raw: str) -> None:
        brokers: dict[str, Any] = json.loads(raw).get("brokers", {})
        with self.lock:
            for name, broker in brokers.items():
                self.connects[name] = int(broker.get("connects", 0))


@dataclass
class Outcome:
    """What the run saw; filled in by the thread."""

    sent: int = 0
    delivered: int = 0
    undelivered_after_flush: int = -1
    fetches: int = 0
    connects: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    failure: BaseException | None = None


class ReauthRun:
    """A producer sending ``RATE_HZ`` messages a second for ``RUN_S`` seconds."""

    def __init__(self, broker: RealKafka, provider: TokenProvider) -> None:
        self.broker = broker
        self.provider = provider
        self.outcome = Outcome()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kip-368 run", daemon=True)

    def start(self) -> ReauthRun:
        self._thread.start()
        return self

    def result(self) -> Outcome:
        """The outcome once the run is over (it ends by itself after ``RUN_S``)."""
        self._thread.join(RUN_S + 60)
        assert not self._thread.is_alive(), "the KIP-368 run did not end"
        if self.outcome.failure is not None:
            raise self.outcome.failure
        return self.outcome

    def stop(self) -> None:
        """End the run early (the test was not selected, or the session is ending)."""
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # noqa: BLE001 - handed to the test by result()
            self.outcome.failure = exc

    def _produce(self) -> None:
        outcome = self.outcome
        stats = Stats()
        delivered: list[int] = []
        producer = Producer(
            broker_conf(
                self.broker,
                make_oauth_cb(self.provider),
                stats_cb=stats,
                error_cb=lambda err: outcome.errors.append(err.str()),
                **{"statistics.interval.ms": 1000, "linger.ms": 5},
            )
        )
        topic = topic_name("reauth")
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < RUN_S and not self._stop.is_set():
            producer.produce(
                topic,
                f"m{outcome.sent}".encode(),
                on_delivery=lambda err, _msg: delivered.append(0 if err else 1),
            )
            outcome.sent += 1
            producer.poll(0)
            # Pacing the producer, not waiting for anything.
            self._stop.wait(max(0.0, outcome.sent / RATE_HZ - elapsed))
        outcome.undelivered_after_flush = producer.flush(20)
        producer.poll(1.5)  # one more statistics report, after the last send
        outcome.delivered = sum(delivered)
        outcome.fetches = self.provider.fetch_count
        with stats.lock:
            outcome.connects = dict(stats.connects)
