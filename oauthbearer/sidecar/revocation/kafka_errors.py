"""A Kafka failure named for a log line, never quoting what a record contained.

Example:
    >>> from confluent_kafka import KafkaError, KafkaException
    >>> kafka_reason(KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT)))
    '_MSG_TIMED_OUT'
    >>> kafka_reason(KafkaException("unknown topic"))  # our own words, raised by us
    'unknown topic'
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException

__all__ = ["kafka_reason", "unknown_topic"]


def kafka_reason(exc: KafkaException) -> str:
    """A KafkaError's name (``UNKNOWN_TOPIC_OR_PART``), never its text (it may quote a
    record); the text only of an exception we raised ourselves with a string."""
    error = exc.args[0] if exc.args else None
    if isinstance(error, KafkaError):
        return str(error.name())
    if isinstance(error, str):
        return error
    return type(exc).__name__


def unknown_topic(exc: KafkaException) -> bool:
    """The topic does not exist (as opposed to the cluster being out of reach)."""
    error = exc.args[0] if exc.args else None
    if isinstance(error, str):
        return error == "unknown topic"  # raised by kafka_source with our own words
    code = getattr(error, "code", None)
    return callable(code) and code() in (
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
    )
