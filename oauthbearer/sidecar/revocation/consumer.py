"""The part of confluent-kafka's ``Consumer`` the revocation reader uses.

:class:`EventConsumer` is the seam the reader's tests replace; :func:`next_batch` reads
what has arrived without holding a record back.

Example:
    >>> class Quiet:
    ...     def poll(self, timeout: float) -> None: return None
    >>> next_batch(Quiet())  # type: ignore[arg-type]
    []
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from confluent_kafka import TopicPartition

__all__ = ["BATCH", "POLL_S", "EventConsumer", "next_batch"]

#: Records handed over at most at once, and how long one poll waits for the first.
BATCH = 500
POLL_S = 0.1


class EventConsumer(Protocol):
    """The part of confluent-kafka's ``Consumer`` this module uses (a seam for tests)."""

    def list_topics(self, topic: str, timeout: float) -> Any: ...
    def offsets_for_times(
        self, partitions: list[TopicPartition], timeout: float
    ) -> list[TopicPartition]: ...
    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float = ..., cached: bool = ...
    ) -> tuple[int, int]: ...
    def assign(self, partitions: list[TopicPartition]) -> None: ...
    def incremental_assign(self, partitions: list[TopicPartition]) -> None: ...
    def poll(self, timeout: float) -> Any: ...
    def consume(self, num_messages: int, timeout: float) -> Sequence[Any]: ...
    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]: ...
    def close(self) -> None: ...


def next_batch(consumer: EventConsumer) -> list[Any]:
    """Whatever has arrived, as soon as one record has (waiting at most ``POLL_S``).

    Not ``consume(n, timeout)`` alone: it returns when ``n`` records are in *or* the
    timeout has passed, which would hold every live revocation back by the whole timeout.
    """
    first = consumer.poll(POLL_S)
    if first is None:
        return []
    return [first, *consumer.consume(BATCH - 1, 0)]
