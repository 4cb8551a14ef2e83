"""Creating the revocations topic when it does not exist (the replicas' shared record).

Example (needs a broker, so shown rather than run)::

    create_topic(kafka_config(settings), "oauthbearer-revocations", retention_seconds=3600)
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from oauthbearer.sidecar.revocation.kafka_errors import kafka_reason

__all__ = ["create_topic", "topic_durability"]

logger = logging.getLogger("oauthbearer.sidecar.revocation")


def create_topic(base: dict[str, Any], topic: str, *, retention_seconds: float) -> bool:
    """Create the revocations topic if it does not exist yet (run on a worker thread).

    One partition is plenty (a revocation is a few dozen bytes, and every replica reads
    every partition anyway). Records are kept at least ``retention_seconds`` (the replay
    window) and never less than Kafka's usual week, and never compacted (two records of
    one principal are both needed). The replicas' only shared memory of revocations must
    outlive a broker: :func:`topic_durability` sets three copies where the cluster has
    them, two of which must hold a record before it is acknowledged. A refusal (no ACL to
    create topics) is logged: an operator may create it beforehand. True when the topic
    exists now (made here or before), False when refused.
    """
    admin = AdminClient({k: v for k, v in base.items() if k != "error_cb"})
    try:
        brokers = len(admin.list_topics(timeout=10).brokers)
        replicas, config = topic_durability(brokers)
        week_ms = 7 * 86_400_000
        config["retention.ms"] = str(max(week_ms, int(retention_seconds * 1000)))
        spec = NewTopic(topic, num_partitions=1, replication_factor=replicas, config=config)
        admin.create_topics([spec], operation_timeout=10, request_timeout=10)[topic].result(15)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
            return True
        logger.warning("revocations topic %s could not be created: %s", topic, kafka_reason(exc))
        return False
    logger.info("revocations topic %s created (%d replicas, %s)", topic, replicas, config)
    return True


def topic_durability(brokers: int) -> tuple[int, dict[str, str]]:
    """Replication factor and settings for the revocations topic on ``brokers`` brokers.

    Example:
        >>> topic_durability(1), topic_durability(5)[0]
        ((1, {'cleanup.policy': 'delete'}), 3)
        >>> topic_durability(3)[1]["min.insync.replicas"]
        '2'
    """
    replicas = max(1, min(3, brokers))
    config = {"cleanup.policy": "delete"}
    if replicas >= 3:
        # acks=all then means two copies: one broker may be down without refusing writes.
        config["min.insync.replicas"] = "2"
    return replicas, config
