"""KafkaEventSource against an in-memory consumer: replay window, catch-up, lag, partitions
added later, malformed records, a missing topic, and a consumer that fails.

The real librdkafka consumer against tansu is in tests/integration/test_revocation_kafka.py;
this fake makes the cases a broker cannot be steered into cheap and exact.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from oauthbearer.sidecar.revocation.events import Event
from oauthbearer.sidecar.revocation.kafka_source import KafkaEventSource
from tests.support.clock import NOW

TOPIC = "identity-events"
REPLAY_S = 3600.0
WAIT_S = 10.0  # an upper bound for the thread to get somewhere, never a pause


def logout(user: str, at: float) -> bytes:
    return json.dumps({"type": "LOGOUT", "userId": user, "time": int(at * 1000)}).encode()


@dataclass
class FakeMessage:
    _partition: int
    _offset: int
    _timestamp_ms: int
    _value: bytes | None

    def error(self) -> KafkaError | None:
        return None

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, self._timestamp_ms

    def value(self) -> bytes | None:
        return self._value


class FakeConsumer:
    """A topic in memory, read the way librdkafka reads it for an assign()ed consumer."""

    def __init__(self, partitions: int = 2, *, topic_exists: bool = True) -> None:
        self.cond = threading.Condition()
        self.logs: dict[int, list[tuple[int, bytes | None]]] = {p: [] for p in range(partitions)}
        self.topic_exists = topic_exists
        self.fetch: dict[int, int] = {}  # partition -> next offset to hand out
        self.assigned: list[list[tuple[int, int]]] = []
        self.incremental: list[list[tuple[int, int]]] = []
        self.closed = threading.Event()
        self.fail_consume: Exception | None = None

    # -- the test's side ----------------------------------------------------------------
    def append(self, partition: int, timestamp: float, value: bytes | None) -> None:
        with self.cond:
            self.logs[partition].append((int(timestamp * 1000), value))
            self.cond.notify_all()

    def add_partition(self) -> int:
        with self.cond:
            partition = len(self.logs)
            self.logs[partition] = []
            return partition

    # -- the consumer's side ------------------------------------------------------------
    def list_topics(self, topic: str, timeout: float) -> Any:
        assert topic == TOPIC
        with self.cond:
            if not self.topic_exists:
                return _Metadata({})
            return _Metadata({TOPIC: _TopicMetadata(dict.fromkeys(self.logs))})

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]:
        found = []
        with self.cond:
            for tp in partitions:
                log = self.logs[tp.partition]
                offset = next((i for i, (ts, _) in enumerate(log) if ts >= tp.offset), -1)
                found.append(TopicPartition(tp.topic, tp.partition, offset))
        return found

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = 0, cached: bool = False
    ) -> tuple[int, int]:
        with self.cond:
            return 0, len(self.logs[partition.partition])

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._take(partitions)
        self.assigned.append([(tp.partition, tp.offset) for tp in partitions])

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        with self.cond:
            assert not {tp.partition for tp in partitions} & set(self.fetch), "already assigned"
        self._take(partitions)
        self.incremental.append([(tp.partition, tp.offset) for tp in partitions])

    def _take(self, partitions: list[TopicPartition]) -> None:
        with self.cond:
            for tp in partitions:
                end = len(self.logs[tp.partition])
                start = {OFFSET_END: end, OFFSET_BEGINNING: 0}.get(tp.offset, tp.offset)
                self.fetch[tp.partition] = start
            self.cond.notify_all()

    def consume(self, num_messages: int, timeout: float) -> Sequence[FakeMessage]:
        if self.fail_consume is not None:
            raise self.fail_consume
        with self.cond:
            self.cond.wait_for(self._available, timeout)
            out: list[FakeMessage] = []
            for partition, offset in sorted(self.fetch.items()):
                log = self.logs[partition]
                while offset < len(log) and len(out) < num_messages:
                    ts, value = log[offset]
                    out.append(FakeMessage(partition, offset, ts, value))
                    offset += 1
                self.fetch[partition] = offset
            return out

    def _available(self) -> bool:
        return any(offset < len(self.logs[p]) for p, offset in self.fetch.items())

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        with self.cond:
            return [
                TopicPartition(tp.topic, tp.partition, self.fetch.get(tp.partition, -1001))
                for tp in partitions
            ]

    def close(self) -> None:
        self.closed.set()


@dataclass
class _TopicMetadata:
    partitions: dict[int, None]
    error: KafkaError | None = None


@dataclass
class _Metadata:
    topics: dict[str, _TopicMetadata]


class Received:
    """What the source delivered, with a way to wait for it."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[Event] = []
        self.caught_up = threading.Event()
        self.caught_up_calls = 0

    def deliver(self, events: list[Event]) -> None:
        with self.cond:
            self.events.extend(events)
            self.cond.notify_all()

    def on_caught_up(self) -> None:
        self.caught_up_calls += 1
        self.caught_up.set()

    def wait_for(self, count: int) -> list[Event]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.events) >= count, WAIT_S), self.events
            return list(self.events)


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def sources() -> Iterator[list[KafkaEventSource]]:
    started: list[KafkaEventSource] = []
    yield started
    for source in started:
        source.stop()


def start(
    consumer: FakeConsumer,
    received: Received,
    sources: list[KafkaEventSource],
    **options: Any,
) -> KafkaEventSource:
    source = KafkaEventSource(
        {"bootstrap.servers": "fake:9092"},
        TOPIC,
        replay_seconds=REPLAY_S,
        deliver=received.deliver,
        on_caught_up=received.on_caught_up,
        clock=lambda: NOW,
        consumer_factory=lambda _config: consumer,
        **options,
    )
    source.start()
    sources.append(source)
    return source


def test_replays_the_window_skips_older_records_and_reports_caught_up(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    consumer = FakeConsumer(partitions=2)
    consumer.append(0, NOW - REPLAY_S - 60, logout("too-old", NOW - REPLAY_S - 60))
    consumer.append(0, NOW - 600, logout("u-0", NOW - 600))
    consumer.append(1, NOW - 30, logout("u-1", NOW - 30))
    consumer.append(1, NOW - 20, logout("u-2", NOW - 20))

    source = start(consumer, received, sources)

    events = received.wait_for(3)
    assert received.caught_up.wait(WAIT_S)
    assert [e.principal for e in events] == ["u-0", "u-1", "u-2"]
    # Sought by time: partition 0 from its second record, partition 1 from its first.
    assert consumer.assigned == [[(0, 1), (1, 0)]]
    assert source.caught_up
    assert received.caught_up_calls == 1

    # Live records after the replay arrive too; every record read is counted, the one
    # skipped for its age included.
    consumer.append(0, NOW, logout("u-live", NOW))
    assert received.wait_for(4)[-1].principal == "u-live"
    assert source.records == 4


def test_an_empty_topic_is_caught_up_at_once(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    consumer = FakeConsumer(partitions=3)
    start(consumer, received, sources)
    assert received.caught_up.wait(WAIT_S)
    assert consumer.assigned == [[(0, OFFSET_END), (1, OFFSET_END), (2, OFFSET_END)]]
    assert received.events == []


def test_a_malformed_record_is_reported_and_reading_goes_on(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    consumer = FakeConsumer(partitions=1)
    consumer.append(0, NOW - 5, b"\xff not json")
    consumer.append(0, NOW - 4, None)  # a tombstone
    consumer.append(0, NOW - 3, logout("u-after", NOW - 3))
    start(consumer, received, sources)
    events = received.wait_for(3)
    assert [(e.type, e.principal) for e in events] == [
        ("malformed", None),
        ("malformed", None),
        ("LOGOUT", "u-after"),
    ]


def test_partitions_added_later_are_read_from_their_beginning(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    consumer = FakeConsumer(partitions=1)
    consumer.append(0, NOW - 10, logout("u-0", NOW - 10))
    start(consumer, received, sources, partition_refresh_interval=0.0)
    received.wait_for(1)

    added = consumer.add_partition()
    consumer.append(added, NOW - 1, logout("u-new", NOW - 1))
    consumer.append(added, NOW, logout("u-new-2", NOW))

    events = received.wait_for(3)
    assert [e.principal for e in events] == ["u-0", "u-new", "u-new-2"]
    assert consumer.incremental == [[(added, OFFSET_BEGINNING)]]
    assert consumer.assigned == [[(0, 0)]]  # the original assignment was left alone


class LogLines(logging.Handler):
    """The revocation logger's messages, captured at the logger itself.

    Not caplog: other tests configure the package's JSON logging, which stops propagation
    to the root logger that caplog listens on.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.arrived.set()


@pytest.fixture
def revocation_log() -> Iterator[LogLines]:
    logger = logging.getLogger("oauthbearer.sidecar.revocation")
    lines, level = LogLines(), logger.level
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(lines)
    logger.setLevel(level)


def test_a_topic_created_after_start_is_waited_for(
    received: Received, sources: list[KafkaEventSource], revocation_log: LogLines
) -> None:
    consumer = FakeConsumer(partitions=1, topic_exists=False)
    source = start(consumer, received, sources, retry_interval=0.01)
    assert revocation_log.arrived.wait(WAIT_S)  # the source found no topic at least once
    assert "cannot assign identity-events yet (unknown topic)" in revocation_log.lines[0]
    assert not source.caught_up

    consumer.append(0, NOW, logout("u-1", NOW))
    with consumer.cond:
        consumer.topic_exists = True
    assert received.wait_for(1)[0].principal == "u-1"
    assert received.caught_up.wait(WAIT_S)


def test_a_failing_consumer_ends_the_thread_logged_and_closed(
    received: Received, sources: list[KafkaEventSource], revocation_log: LogLines
) -> None:
    consumer = FakeConsumer(partitions=1)
    consumer.fail_consume = KafkaException(KafkaError(KafkaError._TRANSPORT))
    start(consumer, received, sources)
    assert consumer.closed.wait(WAIT_S)
    assert "revocation event consumer stopped: KafkaException" in revocation_log.lines


def test_stop_closes_the_consumer(received: Received, sources: list[KafkaEventSource]) -> None:
    consumer = FakeConsumer(partitions=1)
    source = start(consumer, received, sources)
    assert received.caught_up.wait(WAIT_S)
    source.stop()
    assert consumer.closed.is_set()
