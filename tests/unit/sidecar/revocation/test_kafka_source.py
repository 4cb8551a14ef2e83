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
from types import SimpleNamespace
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
from oauthbearer.sidecar.revocation.records import RevocationRecord
from oauthbearer.sidecar.revocation.topic_readers import (
    Item,
    identity_provider_events,
    replicated_revocations,
)
from tests.support.clock import NOW

TOPIC = "identity-events"
REPLAY_S = 3600.0
WAIT_S = 10.0  # an upper bound for the thread to get somewhere, never a pause


def logout(user: str, at: float) -> bytes:
    return json.dumps({"type": "LOGOUT", "userId": user, "time": int(at * 1000)}).encode()


@dataclass
class FakeMessage:
    _topic: str
    _partition: int
    _offset: int
    _timestamp_ms: int
    _value: bytes | None

    def error(self) -> KafkaError | None:
        return None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return TIMESTAMP_CREATE_TIME, self._timestamp_ms

    def value(self) -> bytes | None:
        return self._value


Where = tuple[str, int]  # (topic, partition)


class FakeConsumer:
    """Topics in memory, read the way librdkafka reads them for an assign()ed consumer.

    ``partitions`` of TOPIC exist from the start (unless ``topic_exists`` is False);
    :meth:`add_topic` makes more.
    """

    def __init__(self, partitions: int = 2, *, topic_exists: bool = True) -> None:
        self.cond = threading.Condition()
        self.logs: dict[Where, list[tuple[int, bytes | None]]] = {
            (TOPIC, p): [] for p in range(partitions)
        }
        self.topic_exists = topic_exists
        self.fetch: dict[Where, int] = {}  # (topic, partition) -> next offset to hand out
        self.assigned: list[list[tuple[int, int]]] = []
        self.assigned_topics: list[list[str]] = []
        self.incremental: list[list[tuple[int, int]]] = []
        self.closed = threading.Event()
        self.fail_consume: Exception | None = None

    # -- the test's side ----------------------------------------------------------------
    def append(
        self, partition: int, timestamp: float, value: bytes | None, topic: str = TOPIC
    ) -> None:
        with self.cond:
            self.logs[topic, partition].append((int(timestamp * 1000), value))
            self.cond.notify_all()

    def add_partition(self) -> int:
        with self.cond:
            partition = sum(1 for topic, _ in self.logs if topic == TOPIC)
            self.logs[TOPIC, partition] = []
            return partition

    def add_topic(self, topic: str, partitions: int = 1) -> None:
        with self.cond:
            for partition in range(partitions):
                self.logs[topic, partition] = []

    # -- the consumer's side ------------------------------------------------------------
    def list_topics(self, topic: str, timeout: float) -> Any:
        with self.cond:
            partitions = [p for t, p in self.logs if t == topic]
            if not partitions or (topic == TOPIC and not self.topic_exists):
                return _Metadata({})
            return _Metadata({topic: _TopicMetadata(dict.fromkeys(partitions))})

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]:
        found = []
        with self.cond:
            for tp in partitions:
                log = self.logs[tp.topic, tp.partition]
                offset = next((i for i, (ts, _) in enumerate(log) if ts >= tp.offset), -1)
                found.append(TopicPartition(tp.topic, tp.partition, offset))
        return found

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = 0, cached: bool = False
    ) -> tuple[int, int]:
        with self.cond:
            return 0, len(self.logs[partition.topic, partition.partition])

    def assign(self, partitions: list[TopicPartition]) -> None:
        self._take(partitions)
        self.assigned.append([(tp.partition, tp.offset) for tp in partitions])
        self.assigned_topics.append([tp.topic for tp in partitions])

    def incremental_assign(self, partitions: list[TopicPartition]) -> None:
        with self.cond:
            wanted = {(tp.topic, tp.partition) for tp in partitions}
            assert not wanted & set(self.fetch), "already assigned"
        self._take(partitions)
        self.incremental.append([(tp.partition, tp.offset) for tp in partitions])

    def _take(self, partitions: list[TopicPartition]) -> None:
        with self.cond:
            for tp in partitions:
                end = len(self.logs[tp.topic, tp.partition])
                start = {OFFSET_END: end, OFFSET_BEGINNING: 0}.get(tp.offset, tp.offset)
                self.fetch[tp.topic, tp.partition] = start
            self.cond.notify_all()

    def poll(self, timeout: float) -> FakeMessage | None:
        batch = self.consume(1, timeout)
        return batch[0] if batch else None

    def consume(self, num_messages: int, timeout: float) -> Sequence[FakeMessage]:
        if self.fail_consume is not None:
            raise self.fail_consume
        with self.cond:
            self.cond.wait_for(self._available, timeout)
            out: list[FakeMessage] = []
            for (topic, partition), offset in sorted(self.fetch.items()):
                log = self.logs[topic, partition]
                while offset < len(log) and len(out) < num_messages:
                    ts, value = log[offset]
                    out.append(FakeMessage(topic, partition, offset, ts, value))
                    offset += 1
                self.fetch[topic, partition] = offset
            return out

    def _available(self) -> bool:
        return any(offset < len(self.logs[where]) for where, offset in self.fetch.items())

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        with self.cond:
            return [
                TopicPartition(
                    tp.topic, tp.partition, self.fetch.get((tp.topic, tp.partition), -1001)
                )
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
        self.events: list[Item] = []
        self.channels: list[str] = []
        self.caught_up = threading.Event()
        self.caught_up_calls = 0

    def deliver(self, items: list[tuple[str, Item]]) -> None:
        with self.cond:
            self.events.extend(item for _, item in items)
            self.channels.extend(channel for channel, _ in items)
            self.cond.notify_all()

    def on_caught_up(self) -> None:
        self.caught_up_calls += 1
        self.caught_up.set()

    def wait_for_items(self, count: int) -> list[Item]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.events) >= count, WAIT_S), self.events
            return list(self.events)

    def wait_for(self, count: int) -> list[Event]:
        """The first ``count`` items, all identity-provider events."""
        items = self.wait_for_items(count)
        events = [item for item in items if isinstance(item, Event)]
        assert events == items, "a revocation record where only events were expected"
        return events


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
    readers = options.pop("readers", {TOPIC: identity_provider_events()})
    source = KafkaEventSource(
        {"bootstrap.servers": "fake:9092"},
        readers,
        replay_seconds=REPLAY_S,
        deliver=received.deliver,
        on_caught_up=received.on_caught_up,
        clock=lambda: NOW,
        consumer_factory=options.pop("consumer_factory", lambda _config: consumer),
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
    # From the end offsets read at start (here 0), not "the end" at assignment time.
    assert consumer.assigned == [[(0, 0), (1, 0), (2, 0)]]
    assert received.events == []


def test_a_malformed_record_is_reported_and_reading_goes_on(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    consumer = FakeConsumer(partitions=1)
    consumer.append(0, NOW - 5, b"\xff not json")
    consumer.append(0, NOW - 4, None)  # a tombstone
    consumer.append(0, NOW - 4, b"[" * 5000)  # nested too deep for json: RecursionError
    consumer.append(0, NOW - 3, logout("u-after", NOW - 3))
    start(consumer, received, sources)
    events = received.wait_for(4)
    assert [(e.type, e.principal) for e in events] == [
        ("malformed", None),
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


def test_a_topic_created_after_start_is_read_from_its_beginning_once_it_appears(
    received: Received, sources: list[KafkaEventSource], revocation_log: LogLines
) -> None:
    consumer = FakeConsumer(partitions=1, topic_exists=False)
    source = start(
        consumer, received, sources, retry_interval=0.01, partition_refresh_interval=0.01
    )
    # Nothing to replay from a topic that does not exist: ready meanwhile, and said once.
    assert received.caught_up.wait(WAIT_S)
    assert source.caught_up
    assert revocation_log.arrived.wait(WAIT_S)
    assert "topic identity-events does not exist yet" in revocation_log.lines[0]

    consumer.append(0, NOW, logout("u-1", NOW))
    with consumer.cond:
        consumer.topic_exists = True
    assert received.wait_for(1)[0].principal == "u-1"
    assert sum("does not exist yet" in line for line in revocation_log.lines) == 1


def test_a_failing_consumer_is_closed_logged_and_replaced(
    received: Received, sources: list[KafkaEventSource], revocation_log: LogLines
) -> None:
    # A thread that ended would stop every later revocation while /readyz said ready.
    failing = FakeConsumer(partitions=1)
    failing.fail_consume = KafkaException(KafkaError(KafkaError._TRANSPORT))
    healthy = FakeConsumer(partitions=1)
    healthy.append(0, NOW - 5, logout("u-after-restart", NOW - 5))
    consumers = iter([failing, healthy])
    start(
        failing,
        received,
        sources,
        consumer_factory=lambda _config: next(consumers),
        retry_interval=0.01,
    )
    assert failing.closed.wait(WAIT_S)
    assert "revocation event consumer failed (KafkaException)" in " ".join(revocation_log.lines)
    assert received.wait_for(1)[0].principal == "u-after-restart"


def test_stop_closes_the_consumer(received: Received, sources: list[KafkaEventSource]) -> None:
    consumer = FakeConsumer(partitions=1)
    source = start(consumer, received, sources)
    assert received.caught_up.wait(WAIT_S)
    source.stop()
    assert consumer.closed.is_set()


def test_one_consumer_reads_every_topic_each_with_its_reader(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    consumer = FakeConsumer(partitions=1)
    consumer.add_topic("revocations")
    record = RevocationRecord("jti", "j-1", NOW - 5, "api", "api:1", NOW + 60)
    consumer.append(0, NOW - 6, logout("u-0", NOW - 6))
    consumer.append(0, NOW - 5, record.encode(), topic="revocations")
    consumer.append(0, NOW - 4, logout("not a record", NOW - 4), topic="revocations")
    readers = {TOPIC: identity_provider_events(), "revocations": replicated_revocations()}
    start(consumer, received, sources, readers=readers)

    items = received.wait_for_items(3)
    assert received.caught_up.wait(WAIT_S)
    assert items[0] == Event("keycloak", "LOGOUT", "u-0", NOW - 6, None)
    assert record in items
    assert Event.malformed("replicated") in items  # a Keycloak event is no record of ours
    assert sorted(received.channels) == ["kafka", "replicated", "replicated"]
    assert consumer.assigned_topics == [[TOPIC, "revocations"]]


def test_a_missing_topic_of_ours_is_created_and_one_of_the_idps_does_not_hold_it_up(
    received: Received, sources: list[KafkaEventSource], revocation_log: LogLines
) -> None:
    # Keycloak 26's admin-event topic appears with the first admin event: until then the
    # replicas' own revocations must still be read, and the replica be ready.
    consumer = FakeConsumer(partitions=1)
    created: list[str] = []

    def create(topic: str) -> bool:
        created.append(topic)
        consumer.add_topic(topic)
        return True

    readers = {
        "ours": replicated_revocations(),
        "keycloak-admin-events": identity_provider_events(),
    }
    start(
        consumer,
        received,
        sources,
        readers=readers,
        create_topic=create,
        retry_interval=0.01,
        partition_refresh_interval=0.01,
    )
    assert received.caught_up.wait(WAIT_S)
    assert created == ["ours"]  # created once; the identity provider's is never created
    assert "topic keycloak-admin-events does not exist yet" in revocation_log.lines[0]
    consumer.append(
        0, NOW, RevocationRecord("principal", "u-ours", NOW, "api", "api:2").encode(), "ours"
    )
    (ours,) = received.wait_for_items(1)
    assert isinstance(ours, RevocationRecord)
    assert ours.value == "u-ours"
    consumer.add_topic("keycloak-admin-events")
    consumer.append(0, NOW, logout("u-admin", NOW), "keycloak-admin-events")
    items = received.wait_for_items(2)
    assert isinstance(items[1], Event)
    assert items[1].principal == "u-admin"


class SlowMetadataConsumer(FakeConsumer):
    """A topic created here shows in the metadata only on the third look after."""

    def __init__(self) -> None:
        super().__init__(partitions=1)
        self.looks_until_visible: dict[str, int] = {}

    def create(self, topic: str) -> bool:
        self.looks_until_visible[topic] = 3
        return True

    def list_topics(self, topic: str, timeout: float) -> Any:
        looks = self.looks_until_visible.get(topic)
        if looks is not None:
            if looks > 1:
                self.looks_until_visible[topic] = looks - 1
                return _Metadata({})
            del self.looks_until_visible[topic]
            self.add_topic(topic)
        return super().list_topics(topic, timeout)


def test_a_topic_of_ours_just_created_is_read_from_the_start_not_found_later(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    # On a broker still starting, metadata showed the new topic a moment after "created":
    # it was taken for missing and only read at the next look for new partitions, seconds
    # later, while the first webhooks were already written to it.
    consumer = SlowMetadataConsumer()
    readers = {TOPIC: identity_provider_events(), "ours": replicated_revocations()}
    start(
        consumer,
        received,
        sources,
        readers=readers,
        create_topic=consumer.create,
        partition_refresh_interval=3600,  # no second look: it must be found at start
    )
    assert received.caught_up.wait(WAIT_S)
    assert consumer.assigned_topics == [[TOPIC, "ours"]]


def test_a_topic_of_ours_whose_creation_failed_is_created_again(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    consumer = FakeConsumer(partitions=1)
    attempts: list[str] = []
    made = threading.Event()

    def create(topic: str) -> bool:  # refused once (a broker still starting), then made
        attempts.append(topic)
        if len(attempts) == 1:
            return False
        consumer.add_topic(topic)
        made.set()
        return True

    readers = {TOPIC: identity_provider_events(), "ours": replicated_revocations()}
    start(
        consumer,
        received,
        sources,
        readers=readers,
        create_topic=create,
        partition_refresh_interval=0.01,
    )
    assert received.caught_up.wait(WAIT_S)
    assert made.wait(WAIT_S)
    consumer.append(
        0, NOW, RevocationRecord("principal", "u-ours", NOW, "api", "api:2").encode(), "ours"
    )
    (ours,) = received.wait_for_items(1)
    assert isinstance(ours, RevocationRecord)
    assert attempts == ["ours", "ours"]


class FlakyMetadataConsumer(FakeConsumer):
    """The first metadata request for ``ours`` fails as a flapping broker's does."""

    def __init__(self) -> None:
        super().__init__(partitions=1)
        self.flaky = {"ours"}

    def list_topics(self, topic: str, timeout: float) -> Any:
        if topic in self.flaky:
            self.flaky.discard(topic)
            raise KafkaException(KafkaError(KafkaError._TRANSPORT))
        return super().list_topics(topic, timeout)


def test_a_topic_of_ours_not_looked_at_is_not_taken_for_missing(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    # A failed lookup was taken for "no such topic": its creation failed too (the broker
    # was out of reach), the replica reported caught up without the topic's history, and
    # read it only at the next look for new partitions.
    consumer = FlakyMetadataConsumer()
    consumer.add_topic("ours")
    consumer.append(
        0, NOW, RevocationRecord("principal", "u-revoked", NOW, "api", "api:9").encode(), "ours"
    )
    readers = {TOPIC: identity_provider_events(), "ours": replicated_revocations()}
    start(
        consumer,
        received,
        sources,
        readers=readers,
        create_topic=lambda _topic: False,
        retry_interval=0.01,
        partition_refresh_interval=3600,  # no second look: it must be read at start
    )
    assert received.caught_up.wait(WAIT_S)
    (item,) = received.wait_for_items(1)
    assert isinstance(item, RevocationRecord)
    assert item.value == "u-revoked"


class WrittenDuringTheSearch(FakeConsumer):
    """A record lands just after the search by time found nothing."""

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]:
        found = super().offsets_for_times(partitions, timeout)
        self.append(0, NOW, logout("u-written-meanwhile", NOW))
        return found


def test_a_record_written_just_after_the_search_by_time_is_not_skipped(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    # The end offset was read after the search: a record written between the two was
    # behind the offset the reader started from, never read by this replica.
    consumer = WrittenDuringTheSearch(partitions=1)
    start(consumer, received, sources)
    assert received.caught_up.wait(WAIT_S)
    (event,) = received.wait_for(1)
    assert event.principal == "u-written-meanwhile"


class SearchFailsOnce(FakeConsumer):
    """The first search by time fails for partition 1, as it does while its leader moves:
    librdkafka answers that partition with offset -1 and an error."""

    searches = 0

    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]:
        found = super().offsets_for_times(partitions, timeout)
        self.searches += 1
        if self.searches == 1:
            # TopicPartition's error cannot be set from Python: a stand-in with its fields.
            failed = SimpleNamespace(
                topic=TOPIC,
                partition=1,
                offset=-1,
                error=KafkaError(KafkaError.NOT_LEADER_FOR_PARTITION),
            )
            return [tp if tp.partition != 1 else failed for tp in found]  # type: ignore[misc]
        return found


def test_a_partition_whose_search_by_time_failed_is_searched_again(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    # Taken for "nothing to replay", the partition's history was skipped for good while
    # the replica reported caught up.
    consumer = SearchFailsOnce(partitions=2)
    consumer.append(1, NOW - 60, logout("u-in-partition-1", NOW - 60))
    start(consumer, received, sources)
    assert received.caught_up.wait(WAIT_S)
    (event,) = received.wait_for(1)
    assert event.principal == "u-in-partition-1"
    assert consumer.searches >= 2


def test_a_record_written_while_the_reader_starts_is_not_skipped(
    received: Received, sources: list[KafkaEventSource]
) -> None:
    class WrittenDuringStart(FakeConsumer):
        def assign(self, partitions: list[TopicPartition]) -> None:
            # After the end offsets were read, before the partitions are assigned.
            self.append(0, NOW, logout("u-racing", NOW))
            super().assign(partitions)

    start(WrittenDuringStart(partitions=1), received, sources)
    assert received.caught_up.wait(WAIT_S)
    assert received.wait_for(1)[0].principal == "u-racing"
