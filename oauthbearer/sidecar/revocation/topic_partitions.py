"""Which partitions the revocation topics have, from the broker's metadata.

:class:`~oauthbearer.sidecar.revocation.kafka_source.KafkaEventSource` asks here before it
assigns partitions, and again every few seconds for partitions added since
(``kafka-topics --alter --partitions``). A topic of ours that is missing is created
(once asked to); a missing topic of the identity provider's is reported once (a misspelt
name must be noticed) and looked for again until it appears: Keycloak's admin-event topic
only exists after the first admin event.

Example:
    >>> partitions = TopicPartitions({"fusionauth-events": False})
    >>> partitions.topics
    ('fusionauth-events',)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from confluent_kafka import KafkaException

from oauthbearer.sidecar.revocation.consumer import EventConsumer
from oauthbearer.sidecar.revocation.kafka_errors import kafka_reason, unknown_topic
from oauthbearer.sidecar.revocation.replay_progress import Partition

__all__ = ["METADATA_TIMEOUT_S", "TopicPartitions"]

logger = logging.getLogger("oauthbearer.sidecar.revocation")

#: How long one metadata request (topics, offsets) may take.
METADATA_TIMEOUT_S = 5.0
#: How often a topic just created is looked for until the metadata shows it.
_CREATED_POLL_S = 0.1


class TopicPartitions:
    """The partitions of ``creatable``'s topics (topic → whether it is ours to create).

    ``create_topic(name)`` creates a missing topic of ours, when given, and says whether
    it did (or found it made already).
    """

    def __init__(
        self,
        creatable: Mapping[str, bool],
        create_topic: Callable[[str], bool] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._creatable = dict(creatable)
        self._create_topic = create_topic
        self._sleep = sleep
        self._missing: set[str] = set()  # topics found missing, until they appear

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._creatable)

    def of(self, consumer: EventConsumer, topic_name: str) -> list[int]:
        """The topic's partitions, sorted; :class:`KafkaException` if it has none."""
        metadata = consumer.list_topics(topic_name, timeout=METADATA_TIMEOUT_S)
        topic = metadata.topics.get(topic_name)
        if topic is None or topic.error is not None or not topic.partitions:
            raise KafkaException(topic.error if topic is not None else "unknown topic")
        return sorted(topic.partitions)

    def of_or_create(self, consumer: EventConsumer, topic: str) -> list[int]:
        """:meth:`of`, after creating the topic if it is missing and ours to create.

        A topic just created is waited for (at most :data:`METADATA_TIMEOUT_S`): the
        broker answering metadata may learn of it a moment after the controller said
        "created", and a topic taken for missing was only read once the next look for
        new partitions found it, seconds later, while webhooks wrote to it meanwhile.
        """
        try:
            return self.of(consumer, topic)
        except KafkaException as exc:
            # Only a topic the broker says is missing: a lookup that failed otherwise (a
            # broker flapping) took an existing topic, history and all, for missing, and
            # the replica reported ready without having read it.
            if not unknown_topic(exc) or self._create_topic is None or not self._creatable[topic]:
                raise
        if not self._create_topic(topic):
            raise KafkaException("unknown topic")  # refused: logged, and tried again later
        waited = 0.0
        while True:
            try:
                return self.of(consumer, topic)
            except KafkaException as exc:
                if not unknown_topic(exc) or waited >= METADATA_TIMEOUT_S:
                    raise
            self._sleep(_CREATED_POLL_S)
            waited += _CREATED_POLL_S

    def added(self, consumer: EventConsumer, known: Callable[[Partition], bool]) -> list[Partition]:
        """Partitions of every topic that ``known`` does not know yet (a topic that just
        appeared brings all of its own)."""
        added: list[Partition] = []
        for topic in self._creatable:
            # Topic by topic: one missing (a broker that lost it) must not hide another's
            # new partitions.
            try:
                # Ours and still missing: its creation failed (a broker still starting),
                # so it is tried again rather than left to the broker's defaults.
                missing_ours = topic in self._missing and self._creatable[topic]
                partitions = (self.of_or_create if missing_ours else self.of)(consumer, topic)
            except KafkaException as exc:
                if unknown_topic(exc):
                    self.note_missing(topic)
                else:
                    logger.warning(
                        "revocation events: cannot look for new partitions of %s (%s)",
                        topic,
                        kafka_reason(exc),
                    )
                continue
            if topic in self._missing:
                self._missing.discard(topic)
                logger.info("revocation events: topic %s appeared; reading it", topic)
            added += [(topic, p) for p in partitions if not known((topic, p))]
        return added

    def note_missing(self, topic: str) -> None:
        """Say once that ``topic`` does not exist (yet): a misspelt name must be noticed."""
        if topic not in self._missing:
            self._missing.add(topic)
            logger.warning(
                "revocation events: topic %s does not exist yet; the others are read "
                "meanwhile, and it from its beginning once it appears",
                topic,
            )
