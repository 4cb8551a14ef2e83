"""The topics revocations arrive on, read by every replica in full, through one consumer.

They are the identity provider's own (FusionAuth's topic, the Keycloak emitter's user and
admin topics) and ours (the revocations topic, where every replica writes what its
webhooks accepted). Each topic has a
:class:`~oauthbearer.sidecar.revocation.topic_readers.TopicReader` that turns a record
value into an :class:`Event` or a ``RevocationRecord``.

Design, and why:

* **No shared consumer group.** Each sidecar replica keeps its own cache, so each must
  see every event: partitions are taken with ``assign()`` (never ``subscribe()``), the
  ``group.id`` librdkafka insists on is unique per process, and offsets are never
  committed.
* **Replay on start.** The store lives in memory; a restarted sidecar rebuilds it by
  seeking every partition to the first record not older than the longest token lifetime
  (``offsets_for_times``) — older revocations can only concern expired tokens. Records
  still older than that window are skipped by their timestamp as well: a broker may seek
  coarsely (tansu answers ``offsets_for_times`` with the earliest offset). Until that
  replay has caught up with the end offsets seen at start, :attr:`caught_up` is False and
  ``/readyz`` says not ready.
* **A thread of its own.** confluent-kafka's ``consume()`` blocks; it runs on a daemon
  thread that parses records there (CPU off the event loop) and hands each batch to
  ``deliver`` — in the app, a ``loop.call_soon_threadsafe`` onto the event loop, where
  the store and cache live. A malformed record becomes a ``malformed`` event (counted,
  skipped); nothing a record contains can stop the thread.
* **Lag** (records not yet read, summed over partitions) is kept in :attr:`lag` for the
  ``oauthbearer_sidecar_revocation_consumer_lag`` gauge.
* **Partitions added later** (``kafka-topics --alter --partitions``) are found by looking
  at the topic's metadata every ``partition_refresh_interval`` seconds
  (:mod:`~oauthbearer.sidecar.revocation.topic_partitions`) and are read from their
  beginning: everything in a new partition was written after it was added.

Example (needs a broker, so shown rather than run)::

    # consumer_config: oauthbearer.sidecar.revocation.client_config
    source = KafkaEventSource(consumer_config(settings),
                              {"fusionauth-events": identity_provider_events(),
                               "oauthbearer-revocations": replicated_revocations()},
                              replay_seconds=3600, deliver=print)
    source.start(); ...; source.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    TopicPartition,
)

from oauthbearer.sidecar.revocation.consumer import EventConsumer, next_batch
from oauthbearer.sidecar.revocation.events import Event
from oauthbearer.sidecar.revocation.kafka_errors import kafka_reason, unknown_topic
from oauthbearer.sidecar.revocation.replay_progress import ReplayProgress
from oauthbearer.sidecar.revocation.topic_partitions import METADATA_TIMEOUT_S, TopicPartitions
from oauthbearer.sidecar.revocation.topic_readers import Item, TopicReader

__all__ = ["Deliver", "KafkaEventSource"]

logger = logging.getLogger("oauthbearer.sidecar.revocation")

Clock = Callable[[], float]
#: ``deliver(batch)``: ``(channel, item)`` pairs in the order they were read.
Deliver = Callable[[list[tuple[str, Item]]], None]


class KafkaEventSource:
    """Reads topics from ``now - replay_seconds`` on, forever, on a daemon thread.

    ``readers`` maps each topic to its :class:`TopicReader`; one consumer reads them all.
    ``create_topic(name)`` is called (on the thread) for a missing topic whose reader has
    ``create`` set, before it is waited for.
    """

    def __init__(
        self,
        config: dict[str, Any],
        readers: Mapping[str, TopicReader],
        *,
        replay_seconds: float,
        deliver: Deliver,
        on_caught_up: Callable[[], None] = lambda: None,
        clock: Clock = time.time,
        retry_interval: float = 1.0,
        partition_refresh_interval: float = 5.0,
        consumer_factory: Callable[[dict[str, Any]], EventConsumer] = Consumer,
        create_topic: Callable[[str], bool] | None = None,
    ) -> None:
        if not readers:
            raise ValueError("no topic to read")
        self._config = config
        self._readers = dict(readers)
        self._replay_seconds = replay_seconds
        self._deliver = deliver
        self._on_caught_up = on_caught_up
        self._clock = clock
        self._retry_interval = retry_interval
        self._partition_refresh_interval = partition_refresh_interval
        self._consumer_factory = consumer_factory
        self._partitions = TopicPartitions(
            {topic: reader.create for topic, reader in self._readers.items()}, create_topic
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = ReplayProgress()
        self._start_ms = 0
        self.records = 0

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._readers)

    def start(self) -> None:
        """Create the consumer (configuration errors raise here) and start the thread."""
        consumer = self._consumer_factory(self._config)
        self._thread = threading.Thread(
            target=self._keep_running, args=(consumer,), name="oauthbearer-revocation", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading and close the consumer (waits at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- the thread -------------------------------------------------------------------

    def _keep_running(self, consumer: EventConsumer) -> None:
        """Read until stopped; after anything unexpected, start over with a new consumer.

        A thread that ended would stop revocations silently while ``/readyz`` still said
        ready. Starting over replays the window again, which the store's event ids make
        harmless.
        """
        while True:
            self._run(consumer)
            if self._stop.wait(self._retry_interval):
                return
            try:
                consumer = self._consumer_factory(self._config)
            except Exception as exc:  # noqa: BLE001 - logged; tried again after the interval
                logger.error("revocation event consumer cannot restart: %s", type(exc).__name__)  # noqa: TRY400
                continue
            self._progress.forget()

    def _run(self, consumer: EventConsumer) -> None:
        try:
            if self._assign(consumer):
                self._consume(consumer)
        # Anything at all: _keep_running starts over.
        except Exception as exc:  # noqa: BLE001 - logged, and the consumer closed cleanly
            logger.error(  # noqa: TRY400 - the type only: a traceback may quote a payload
                "revocation event consumer failed (%s); starting over in %g s",
                type(exc).__name__,
                self._retry_interval,
            )
        finally:
            consumer.close()

    def _assign(self, consumer: EventConsumer) -> bool:
        while not self._stop.is_set():
            topic = ""
            try:
                self._start_ms = start_ms = int((self._clock() - self._replay_seconds) * 1000)
                wanted: list[TopicPartition] = []
                for topic in self._readers:
                    try:
                        partitions = self._partitions.of_or_create(consumer, topic)
                    except KafkaException as exc:
                        if not unknown_topic(exc):
                            raise
                        # Not there yet (Keycloak's admin-event topic appears with the
                        # first admin event): the others are read meanwhile, and this
                        # one from its beginning once it appears (_add_new_partitions).
                        self._partitions.note_missing(topic)
                        continue
                    wanted += [TopicPartition(topic, p, start_ms) for p in partitions]
                # The end offsets first, then the search by time: a record written after
                # the search found nothing (-1) and before the end was looked up was
                # skipped for good, the reader starting past it.
                ends = {
                    (tp.topic, tp.partition): consumer.get_watermark_offsets(
                        TopicPartition(tp.topic, tp.partition), timeout=METADATA_TIMEOUT_S
                    )[1]
                    for tp in wanted
                }
                found = consumer.offsets_for_times(wanted, timeout=METADATA_TIMEOUT_S)
                for tp in found:
                    # A partition whose search failed (a leader moving) comes back with
                    # offset -1 and an error: taken for "nothing to replay", the reader
                    # would start at the end and skip that partition's history. The whole
                    # assignment is tried again instead.
                    if tp.error is not None:
                        topic = tp.topic
                        # Handled below like the client's own errors: retried after a pause.
                        raise KafkaException(tp.error)  # noqa: TRY301
                for tp in found:
                    high = ends[tp.topic, tp.partition]
                    # -1: no record at or after start_ms when the search ran, so nothing
                    # to replay there. Read from the end offset seen before it, not "the
                    # end" when assigned: a record written in between would be skipped
                    # while we report caught up.
                    if tp.offset < 0:
                        tp.offset = high
                    self._progress.starts(
                        (tp.topic, tp.partition), at=tp.offset, end=max(high, tp.offset)
                    )
                consumer.assign(found)
            except KafkaException as exc:
                logger.warning(
                    "revocation events: cannot assign %s yet (%s); retrying",
                    topic,
                    kafka_reason(exc),
                )
                self._progress.forget()
                self._stop.wait(self._retry_interval)
                continue
            logger.info(
                "revocation events: reading %s, %d partitions, replaying %g s",
                ", ".join(self._readers),
                len(found),
                self._replay_seconds,
            )
            self._note_caught_up()
            return True
        return False

    def _consume(self, consumer: EventConsumer) -> None:
        last_lag = 0.0
        last_refresh = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() - last_refresh >= self._partition_refresh_interval:
                self._add_new_partitions(consumer)
                last_refresh = time.monotonic()
            messages = next_batch(consumer)
            items: list[tuple[str, Item]] = []
            for message in messages:
                if message.error() is not None:
                    continue
                topic, partition, offset = message.topic(), message.partition(), message.offset()
                if partition is not None and offset is not None:
                    self._progress.read((topic, partition), offset)
                self.records += 1
                kind, stamp = message.timestamp()
                if kind != TIMESTAMP_NOT_AVAILABLE and stamp < self._start_ms:
                    continue  # before the replay window: concerns expired tokens only
                reader = self._readers.get(topic)
                if reader is None:
                    continue
                value = message.value()
                try:
                    items.append((reader.channel, reader.decode(value or b"")))
                # Anything at all (a RecursionError from JSON nested too deep, an
                # OverflowError): one record must not stop every revocation after it.
                except Exception:  # noqa: BLE001 - counted as malformed, and read on
                    items.append((reader.channel, Event.malformed(reader.channel)))
            if items:
                self._deliver(items)
            elif not self._progress.caught_up:
                self._progress.sync(consumer)
            now = time.monotonic()
            if messages or now - last_lag >= 1.0:
                self._progress.update_lag(consumer)
                last_lag = now
            self._note_caught_up()

    def _add_new_partitions(self, consumer: EventConsumer) -> None:
        added = self._partitions.added(consumer, self._progress.knows)
        if not added:
            return
        try:
            consumer.incremental_assign(
                [TopicPartition(topic, p, OFFSET_BEGINNING) for topic, p in added]
            )
        except KafkaException as exc:
            logger.warning("revocation events: cannot read new partitions (%s)", kafka_reason(exc))
            return
        for partition in added:
            self._progress.added(partition)
        logger.info(
            "revocation events: reading new partitions %s from their beginning",
            ", ".join(f"{topic}[{p}]" for topic, p in added),
        )

    def _note_caught_up(self) -> None:
        if self._progress.just_caught_up():
            self._on_caught_up()

    @property
    def caught_up(self) -> bool:
        """The replay reached the end offsets seen at start (``/readyz`` waits for it)."""
        return self._progress.caught_up

    @property
    def lag(self) -> int:
        """Records not yet read, summed over partitions (the consumer-lag gauge)."""
        return self._progress.lag
