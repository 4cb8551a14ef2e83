"""Our revocation record format, and the publisher's ack handling against a fake producer.

The real idempotent producer against a broker is in tests/integration/test_replicas.py;
the fake steers the cases a broker cannot be made to produce on cue: a refused delivery,
a fatal producer error, a report that never comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, KafkaException

from oauthbearer.sidecar.revocation.events import MalformedEvent
from oauthbearer.sidecar.revocation.publisher import (
    PublishFailed,
    RecordProducer,
    RevocationPublisher,
    producer_settings,
)
from oauthbearer.sidecar.revocation.records import RevocationRecord
from oauthbearer.sidecar.verdict import token_key

PRINCIPAL = RevocationRecord("principal", "u-1", 1767225600.25, "keycloak", "keycloak:7")
TOKEN = RevocationRecord(
    "token", token_key("t").hex(), 1767225600.0, "api", "api:abc", exp=1767229200.0
)


@pytest.mark.parametrize("record", [PRINCIPAL, TOKEN])
def test_a_record_round_trips(record: RevocationRecord) -> None:
    assert RevocationRecord.decode(record.encode()) == record


def test_the_wire_form_is_small_and_documented() -> None:
    assert json.loads(TOKEN.encode()) == {
        "v": 1,
        "kind": "token",
        "value": token_key("t").hex(),
        "at": 1767225600.0,
        "source": "api",
        "id": "api:abc",
        "exp": 1767229200.0,
    }
    assert PRINCIPAL.key == b"principal:u-1"


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"[]",
        b'{"v": 2, "kind": "principal", "value": "u", "at": 1, "source": "api", "id": "x"}',
        b'{"v": 1, "kind": "user", "value": "u", "at": 1, "source": "api", "id": "x"}',
        b'{"v": 1, "kind": "principal", "value": "u", "at": 1, "source": "okta", "id": "x"}',
        b'{"v": 1, "kind": "principal", "value": "", "at": 1, "source": "api", "id": "x"}',
        b'{"v": 1, "kind": "principal", "value": "u", "at": 1, "source": "api", "id": ""}',
        b'{"v": 1, "kind": "principal", "value": "u", "at": NaN, "source": "api", "id": "x"}',
        b'{"v": 1, "kind": "principal", "value": "u", "at": true, "source": "api", "id": "x"}',
        b'{"v": 1, "kind": "jti", "value": "j", "at": 1, "exp": "soon", "source": "api", '
        b'"id": "x"}',
        # A token record carries a fingerprint; a raw token is refused, not applied.
        b'{"v": 1, "kind": "token", "value": "eyJhbGciOi", "at": 1, "source": "api", "id": "x"}',
    ],
)
def test_anything_else_is_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedEvent):
        RevocationRecord.decode(payload)


def test_the_producer_is_idempotent_with_acks_from_all_replicas() -> None:
    config = producer_settings({"bootstrap.servers": "k:9092"}, timeout=2.5)
    assert config["enable.idempotence"] is True
    assert config["acks"] == "all"
    assert config["message.timeout.ms"] == 2500


class FakeProducer:
    """Delivers (or refuses) each record when the poll thread next polls."""

    instances: ClassVar[list[FakeProducer]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.refuse: KafkaError | None = None
        self.silent = False
        self.produced: list[tuple[str, bytes, bytes]] = []
        self._pending: list[Any] = []
        self._lock = threading.Lock()
        FakeProducer.instances.append(self)

    def produce(
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int = -1,
        callback: Any = None,
        on_delivery: Any = None,
    ) -> None:
        assert isinstance(key, bytes)
        assert isinstance(value, bytes)
        with self._lock:
            self.produced.append((topic, key, value))
            if not self.silent:
                self._pending.append(on_delivery)

    def poll(self, timeout: float = 0) -> int:
        with self._lock:
            pending, self._pending = self._pending, []
        for report in pending:
            report(self.refuse, None)
        threading.Event().wait(min(timeout, 0.005))
        return len(pending)

    def flush(self, timeout: float = 0) -> int:
        return 0


def fake_producer(config: dict[str, Any]) -> RecordProducer:
    return FakeProducer(config)


@pytest.fixture
def publisher() -> Iterator[RevocationPublisher]:
    FakeProducer.instances.clear()
    publisher = RevocationPublisher(
        {"bootstrap.servers": "k:9092"},
        "revocations",
        timeout=0.2,
        producer_factory=fake_producer,
        report_slack=0.2,
    )
    publisher.start()
    yield publisher
    publisher.stop()


async def test_publish_returns_once_every_record_is_acknowledged(
    publisher: RevocationPublisher,
) -> None:
    await publisher.publish([PRINCIPAL, TOKEN])
    producer = FakeProducer.instances[0]
    assert [(t, k) for t, k, _ in producer.produced] == [
        ("revocations", PRINCIPAL.key),
        ("revocations", TOKEN.key),
    ]
    assert RevocationRecord.decode(producer.produced[0][2]) == PRINCIPAL


async def test_a_refused_delivery_fails_the_publish(publisher: RevocationPublisher) -> None:
    FakeProducer.instances[0].refuse = KafkaError(KafkaError._MSG_TIMED_OUT)
    with pytest.raises(PublishFailed, match="_MSG_TIMED_OUT"):
        await publisher.publish([PRINCIPAL])


async def test_a_report_that_never_comes_fails_the_publish(
    publisher: RevocationPublisher,
) -> None:
    FakeProducer.instances[0].silent = True
    with pytest.raises(PublishFailed):
        await publisher.publish([PRINCIPAL])


async def test_a_fatal_error_gets_a_new_producer(publisher: RevocationPublisher) -> None:
    first = FakeProducer.instances[0]
    error_cb = first.config["error_cb"]
    error_cb(KafkaError(KafkaError._FATAL, "OUT_OF_ORDER_SEQUENCE_NUMBER", fatal=True))
    await publisher.publish([PRINCIPAL])
    assert len(FakeProducer.instances) == 2
    assert first.produced == []
    assert len(FakeProducer.instances[1].produced) == 1


async def test_a_new_producer_is_built_off_the_event_loop(
    publisher: RevocationPublisher,
) -> None:
    # Its constructor calls oauth_cb, which may fetch a token: on the event loop, every
    # introspection would wait for that fetch.
    built_in: list[threading.Thread] = []

    def recording_factory(config: dict[str, Any]) -> RecordProducer:
        built_in.append(threading.current_thread())
        return FakeProducer(config)

    publisher._factory = recording_factory
    error_cb = FakeProducer.instances[0].config["error_cb"]
    error_cb(KafkaError(KafkaError._FATAL, "OUT_OF_ORDER_SEQUENCE_NUMBER", fatal=True))
    await publisher.publish([PRINCIPAL])
    assert len(built_in) == 1
    assert built_in[0] is not threading.main_thread()
    assert len(FakeProducer.instances[1].produced) == 1


async def test_a_stopped_publisher_fails_fast() -> None:
    publisher = RevocationPublisher({}, "revocations", timeout=1.0, producer_factory=FakeProducer)
    with pytest.raises(PublishFailed, match="stopped"):
        await publisher.publish([PRINCIPAL])


async def test_a_producer_raising_fatal_is_replaced(publisher: RevocationPublisher) -> None:
    first = FakeProducer.instances[0]

    def fatal(*_args: Any, **_kwargs: Any) -> None:
        raise KafkaException(KafkaError(KafkaError._FATAL, "fatal", fatal=True))

    first.produce = fatal  # type: ignore[method-assign]
    with pytest.raises(PublishFailed, match="_FATAL"):
        await publisher.publish([PRINCIPAL])
    await publisher.publish([PRINCIPAL])  # the next delivery gets a new producer
    assert len(FakeProducer.instances) == 2


async def test_a_record_kafka_refused_is_published_again_until_it_lands() -> None:
    # The sender's retry is not to be relied on (FusionAuth gives up after a few): the
    # replica keeps what Kafka did not take and publishes it again in the background.
    FakeProducer.instances.clear()
    publisher = RevocationPublisher(
        {}, "revocations", timeout=0.2, producer_factory=fake_producer, retry_interval=0.01
    )
    publisher.start()
    try:
        producer = FakeProducer.instances[0]
        producer.refuse = KafkaError(KafkaError._MSG_TIMED_OUT)
        with pytest.raises(PublishFailed):
            await publisher.publish([PRINCIPAL])
        assert publisher.outbox == 1
        await asyncio.sleep(0.05)  # a few retries, refused as well
        assert publisher.outbox == 1
        producer.refuse = None  # the cluster is back
        for _ in range(200):
            if publisher.outbox == 0:
                break
            await asyncio.sleep(0.01)  # polling the background retry, bounded
        assert publisher.outbox == 0
        delivered = [RevocationRecord.decode(value) for _, _, value in producer.produced]
        assert delivered[-1] == PRINCIPAL
    finally:
        publisher.stop()


async def test_a_senders_retry_that_lands_empties_the_outbox(
    publisher: RevocationPublisher,
) -> None:
    producer = FakeProducer.instances[0]
    producer.refuse = KafkaError(KafkaError._MSG_TIMED_OUT)
    with pytest.raises(PublishFailed):
        await publisher.publish([PRINCIPAL, TOKEN])
    producer.refuse = None
    await publisher.publish([PRINCIPAL, TOKEN])  # the webhook delivered again
    assert publisher.outbox == 0


def test_stopping_from_a_worker_thread_cancels_the_retries_on_their_loop() -> None:
    # The sidecar stops the publisher on a worker thread (asyncio.to_thread): Task.cancel
    # from there raised under asyncio's debug mode, and the producer was never flushed.
    flushed: list[bool] = []

    class Flushing(FakeProducer):
        def flush(self, timeout: float = 0) -> int:
            flushed.append(True)
            return 0

    async def main() -> bool:
        FakeProducer.instances.clear()
        publisher = RevocationPublisher(
            {}, "revocations", timeout=0.2, producer_factory=Flushing, retry_interval=3600
        )
        publisher.start()
        FakeProducer.instances[0].refuse = KafkaError(KafkaError._MSG_TIMED_OUT)
        with pytest.raises(PublishFailed):
            await publisher.publish([PRINCIPAL])
        retrying = publisher._retrying
        assert retrying is not None
        await asyncio.sleep(0.05)  # the retry task is asleep, waiting for its next attempt
        await asyncio.to_thread(publisher.stop)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(retrying, 5)  # ended: not left asleep for an hour
        return retrying.done()

    assert asyncio.run(main(), debug=True)
    assert flushed == [True]
