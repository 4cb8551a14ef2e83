"""The whole story on loopback, with real components, told step by step.

    scripts/demo            (installs what it needs, then runs ``python -m demo``)

1. a real authorization server (npm oidc-provider) issues client-credentials tokens;
2. ``oauthbearer serve`` — the introspection sidecar — verifies JWTs against its JWKS and
   introspects opaque tokens upstream;
3. a broker that asks the sidecar: **real Apache Kafka with Strimzi's introspection
   validator** when the Kafka bundle is there (``OAUTHBEARER_TEST_KAFKA_BUNDLE``, else
   ../shared/realkafka; see tests/support/realkafka.py), otherwise a Kafka-protocol broker
   (tansu) behind a SASL/OAUTHBEARER front that plays that validator (test
   infrastructure, tests/support/sasl_front.py). The demo says which;
4. a confluent-kafka producer and consumer configured only by jairsjunior's
   ``OAUTH_LOGIN_*`` variables and ``from oauthbearer import oauth_cb``.

Every process it starts, it stops. Exit status 0 only if every step did what it says.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

STEP_TIMEOUT_S = 20.0
TOPIC = "oauthbearer-demo"
MESSAGES = 5
CALLER_ID, CALLER_SECRET = "kafka-broker", "fake-demo-caller-secret"


class StepFailed(Exception):
    """A step did not do what it says; the demo stops and exits non-zero."""


class Story:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.number = 0

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        print(f"\n{self.number}. {title}", flush=True)
        yield

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)


class SidecarLog:
    """Reads the sidecar's JSON decision lines as they are appended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def next_decisions(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            with self.path.open() as log:
                log.seek(self.offset)
                for line in log:
                    if not line.endswith("\n"):
                        break
                    self.offset += len(line.encode())
                    if not line.startswith("{"):
                        continue  # not ours: every sidecar line is JSON, a library may print
                    record = json.loads(line)
                    if record.get("message") == "decision":
                        found.append(record)
            if len(found) < count:
                time.sleep(0.05)
        if len(found) < count:
            raise StepFailed(f"the sidecar logged {len(found)} of {count} expected decisions")
        return found


def _describe(decision: dict[str, Any]) -> str:
    who = f" for {decision['sub']}" if decision.get("sub") else ""
    reason = f" ({decision['reason']})" if decision.get("reason") else ""
    return (
        f"sidecar decided {decision['result']}{who}, source {decision['source']}, "
        f"in {decision['latency_ms']:.2f} ms{reason}"
    )


def _until(what: str, done: Callable[[], bool], timeout: float = STEP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise StepFailed(f"{what} within {timeout:g} s")
        time.sleep(0.05)


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def run(story: Story, stack: ExitStack, work: Path) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

    from oauthbearer import TokenProvider, make_oauth_cb, oauth_cb
    from oauthbearer.client.confluent import default_provider
    from tests.support.idp import Idp, _make_clients
    from tests.support.ports import free_port
    from tests.support.realkafka import (
        RealKafka,
        bundle_path,
        missing_bundle_reason,
        strimzi_introspection,
    )
    from tests.support.sasl_front import SaslFront
    from tests.support.tansu import Tansu

    with story.step("Authorization server"):
        idp = Idp(_make_clients(), access_token_ttl=300, log_dir=work).start()
        stack.callback(idp.stop)
        story.say(f"oidc-provider at {idp.issuer}, a fresh RS256 signing key (kid {idp.kid})")
        story.say("clients: kafka-basic gets JWT access tokens, kafka-opaque opaque ones")

    with story.step("Introspection sidecar: oauthbearer serve"):
        port = free_port()
        env = {
            **os.environ,
            **idp.introspect_env(),
            "OAUTHBEARER_JWKS_URL": idp.jwks_url,
            "OAUTHBEARER_ISSUER": idp.issuer,
            "OAUTHBEARER_AUDIENCE": "urn:kafka:jwt",
            "OAUTHBEARER_CALLERS": f"{CALLER_ID}:{CALLER_SECRET}",
            "OAUTHBEARER_LISTEN": f"127.0.0.1:{port}",
            # The demo tells every decision, cache hits too (by default they are summed
            # into one "cache hits" line per caller and principal every 10 s).
            "OAUTHBEARER_DECISION_LOG_HITS": "each",
        }
        log_path = work / "sidecar.log"
        log_file = stack.enter_context(log_path.open("w"))
        sidecar = subprocess.Popen(
            [sys.executable, "-m", "oauthbearer.cli", "serve"], env=env, stderr=log_file
        )
        stack.callback(_stop, sidecar)
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _until("the sidecar was not ready", ready)
        story.say(f"listening on {base}: JWTs verified against {idp.jwks_url},")
        story.say(f"opaque tokens introspected at {idp.introspection_url}, results cached")
        decisions = SidecarLog(log_path)

    bundle = bundle_path()
    if bundle is not None:
        with story.step("Broker: Apache Kafka with Strimzi's introspection validator"):
            kafka_broker = RealKafka(
                bundle,
                work,
                name="demo-kafka",
                plugin="strimzi",
                listener="SASL_PLAINTEXT",
                properties=strimzi_introspection(
                    f"{base}/oauth2/introspect", idp.issuer, CALLER_ID, CALLER_SECRET
                ),
            ).start()
            stack.callback(kafka_broker.stop)
            bootstrap = kafka_broker.bootstrap
            story.say(f"Kafka {kafka_broker.home.name.split('-', 1)[1]} (KRaft) at {bootstrap},")
            story.say("io.strimzi.kafka.oauth.server.JaasServerOauthValidatorCallbackHandler")
            story.say(f"calling {base}/oauth2/introspect as {CALLER_ID}")
    else:
        with story.step("Broker: tansu behind a SASL/OAUTHBEARER front (Strimzi's validator)"):
            front = SaslFront(
                f"{base}/oauth2/introspect",
                shape="strimzi",
                client_id=CALLER_ID,
                client_secret=CALLER_SECRET,
                valid_issuer=idp.issuer,
            ).start()
            stack.callback(front.stop)
            broker = Tansu(advertised_port=front.port, log_dir=work, name="demo").start()
            stack.callback(broker.stop)
            front.upstream = ("127.0.0.1", broker.port)
            bootstrap = front.bootstrap
            story.say(f"clients connect to {bootstrap}; the front asks the sidecar exactly")
            story.say("as Strimzi's JaasServerOauthValidatorCallbackHandler would, then relays")
            story.say(f"(no Apache Kafka bundle: {missing_bundle_reason()})")

    login_env = idp.env_for("basic")
    os.environ.update(login_env)
    kafka = {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        # librdkafka's own log lines go to a file in the work dir, not the terminal: the
        # story is told here, and a line such as a group coordinator's transient SASL
        # error on close reads to a newcomer as a failure it is not.
        "logger": _librdkafka_log(work),
    }

    with story.step("Producer: only OAUTH_LOGIN_* set, and 'oauth_cb': oauth_cb"):
        story.say("environment: " + ", ".join(sorted(login_env)))
        delivered: list[str] = []
        errors: list[str] = []

        def on_delivery(err: Any, msg: Any) -> None:
            (errors if err is not None else delivered).append(str(err or msg.offset()))

        producer = Producer({**kafka, "oauth_cb": oauth_cb})
        token = default_provider().current()
        if token is None:
            raise StepFailed("the producer was built but no token is cached")
        provider = default_provider()
        story.say(
            f"token fetched for {provider.principal(token)} ({'JWT' if token.claims else 'opaque'}"
            f"), valid until {_when(token.expires_at)}, fingerprint {token.fingerprint}"
        )
        for i in range(MESSAGES):
            producer.produce(TOPIC, f"hello {i}".encode(), on_delivery=on_delivery)
        producer.flush(STEP_TIMEOUT_S)
        if len(delivered) != MESSAGES:
            raise StepFailed(f"{len(delivered)} of {MESSAGES} messages delivered: {errors}")
        story.say(_describe(decisions.next_decisions()[0]))
        story.say(f"{MESSAGES} messages delivered to {TOPIC}")

    with story.step("Consumer: a new connection with the same token"):
        consumer = Consumer(
            {
                **kafka,
                "oauth_cb": oauth_cb,
                "group.id": "oauthbearer-demo",
                "enable.auto.commit": False,
            }
        )
        # assign(), not subscribe(): tansu's group join is slow, and the demo needs no group.
        partitions = consumer.list_topics(TOPIC, timeout=STEP_TIMEOUT_S).topics[TOPIC].partitions
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in partitions])
        received: list[str] = []
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while len(received) < MESSAGES and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            value = None if msg is None or msg.error() else msg.value()
            if value is not None:
                received.append(value.decode())
        consumer.close()
        if len(received) != MESSAGES:
            raise StepFailed(f"consumed {len(received)} of {MESSAGES} messages")
        story.say(_describe(decisions.next_decisions()[0]))
        story.say(f"consumed all {MESSAGES}: {', '.join(received)}")
        story.say(f"token fetches so far in this process: {provider.fetch_count}")

    with story.step("An opaque token: the sidecar asks the authorization server"):
        opaque = TokenProvider.from_env(
            idp.env_for("opaque") | {"OAUTHBEARER_LOGIN_RESOURCE": "urn:kafka:opaque"}
        )
        opaque_producer = Producer({**kafka, "oauth_cb": make_oauth_cb(opaque)})
        done: list[Any] = []
        opaque_producer.produce(
            TOPIC, b"from an opaque token", on_delivery=lambda e, m: done.append(e)
        )
        opaque_producer.flush(STEP_TIMEOUT_S)
        if done != [None]:
            raise StepFailed(f"delivery with the opaque token failed: {done}")
        story.say(_describe(decisions.next_decisions()[0]))
        story.say("1 message delivered")
        opaque.close()

    with story.step("A token nobody issued is refused at the SASL step"):
        auth_errors: list[str] = []
        failed: list[Any] = []

        def forged(_config: str | None) -> tuple[str, float, str, dict[str, str]]:
            return "forged-token-nobody-issued", time.time() + 300, "mallory", {}

        # librdkafka retries the refused login every few ms and logs each; error_cb gets
        # them all, and the demo reports the first.
        bad = Producer(
            {
                **kafka,
                "oauth_cb": forged,
                "message.timeout.ms": 4000,
                "error_cb": lambda err: auth_errors.append(err.str()),
            }
        )
        bad.produce(TOPIC, b"must not arrive", on_delivery=lambda e, m: failed.append(e))
        bad.flush(STEP_TIMEOUT_S)
        if not failed or failed[0] is None:
            raise StepFailed("the forged token's message was delivered")
        if not any("Authentication" in e or "SASL" in e for e in auth_errors):
            raise StepFailed(f"no authentication error reported: {auth_errors}")
        story.say(_describe(decisions.next_decisions()[0]))
        story.say(f"client saw: {auth_errors[0]}")
        story.say(f"nothing produced: delivery failed with {failed[0].name()}")
        if failed[0].code() not in (KafkaError._MSG_TIMED_OUT, KafkaError._AUTHENTICATION):
            raise StepFailed(f"unexpected delivery error {failed[0]}")


def _librdkafka_log(work: Path) -> logging.Logger:
    logger = logging.getLogger("demo.librdkafka")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.handlers = [logging.FileHandler(work / "librdkafka.log")]
    return logger


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def main() -> int:
    story = Story()
    print("oauthbearer demo: SASL/OAUTHBEARER end to end on loopback, real components")
    with tempfile.TemporaryDirectory(prefix="oauthbearer-demo-") as tmp, ExitStack() as stack:
        try:
            run(story, stack, Path(tmp))
        except StepFailed as exc:
            print(f"\nFAILED at step {story.number}: {exc}", file=sys.stderr)
            return 1
    print(
        f"\nAll steps passed in {time.monotonic() - story.started:.1f} s; "
        "every process the demo started is stopped."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
