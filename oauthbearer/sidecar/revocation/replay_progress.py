"""How far the revocation reader has read: per partition, against the end seen at start.

The reader is ready (``caught_up``) once every partition it was assigned at start has
been read up to the end offset it had then; partitions added later do not hold that up.
``lag`` sums what is left to read, for the consumer-lag gauge.

Example:
    >>> progress = ReplayProgress()
    >>> progress.starts(("events", 0), at=5, end=7)
    >>> progress.read(("events", 0), 5); progress.just_caught_up()
    False
    >>> progress.read(("events", 0), 6); progress.just_caught_up(), progress.just_caught_up()
    (True, False)
"""

from __future__ import annotations

from confluent_kafka import TopicPartition

from oauthbearer.sidecar.revocation.consumer import EventConsumer

__all__ = ["Partition", "ReplayProgress"]

Partition = tuple[str, int]


class ReplayProgress:
    """Next offset to read per partition, and the end offsets the replay must reach."""

    __slots__ = ("_positions", "_targets", "caught_up", "lag")

    def __init__(self) -> None:
        self._positions: dict[Partition, int] = {}
        self._targets: dict[Partition, int] = {}
        self.caught_up = False
        self.lag = 0

    def forget(self) -> None:
        """Start over (a new assignment); having caught up once stays true."""
        self._positions.clear()
        self._targets.clear()

    def starts(self, partition: Partition, *, at: int, end: int) -> None:
        """``partition`` is read from offset ``at``; the replay must reach ``end``."""
        self._positions[partition] = at
        self._targets[partition] = end

    def added(self, partition: Partition) -> None:
        """A partition found later, read from its beginning (nothing to wait for)."""
        self._positions[partition] = 0

    def knows(self, partition: Partition) -> bool:
        return partition in self._positions

    def read(self, partition: Partition, offset: int) -> None:
        """The record at ``offset`` was read."""
        self._positions[partition] = offset + 1

    def sync(self, consumer: EventConsumer) -> None:
        """Take the consumer's next fetch offsets: they also step over records never
        delivered (transaction markers), which "last offset + 1" would wait for forever."""
        assigned = [TopicPartition(topic, p) for topic, p in self._targets]
        for tp in consumer.position(assigned):
            if tp.offset >= 0:
                where = (tp.topic, tp.partition)
                self._positions[where] = max(self._positions.get(where, 0), tp.offset)

    def update_lag(self, consumer: EventConsumer) -> None:
        lag = 0
        for (topic, partition), position in self._positions.items():
            # cached=True: the high watermark from the last fetch response, no request.
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), cached=True
            )
            if high >= 0:
                lag += max(0, high - position)
        self.lag = lag

    def just_caught_up(self) -> bool:
        """True exactly once: when every start partition has reached its end offset."""
        if self.caught_up:
            return False
        if all(self._positions.get(p, 0) >= end for p, end in self._targets.items()):
            self.caught_up = True
            return True
        return False
