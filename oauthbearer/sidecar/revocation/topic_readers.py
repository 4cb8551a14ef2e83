"""What each revocation topic carries, and how its record values are read.

An identity provider's own topic (FusionAuth's, the Keycloak emitter's user and admin
topics) carries its events; ours (the revocations topic) carries the
:class:`~oauthbearer.sidecar.revocation.records.RevocationRecord` values every replica
writes and reads. :class:`~oauthbearer.sidecar.revocation.kafka_source.KafkaEventSource`
reads every topic through the :class:`TopicReader` it is given for it.

Example:
    >>> reader = replicated_revocations()
    >>> reader.channel, reader.create
    ('replicated', True)
    >>> identity_provider_events().channel
    'kafka'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from oauthbearer.sidecar.revocation.events import Event, parse_record
from oauthbearer.sidecar.revocation.records import RevocationRecord

__all__ = ["Item", "TopicReader", "identity_provider_events", "replicated_revocations"]

#: What a topic's record becomes: an identity provider's event, or one of our records.
Item = Event | RevocationRecord


@dataclass(frozen=True, slots=True)
class TopicReader:
    """How one topic's record values become revocations.

    ``channel`` labels what it delivers (``kafka`` for an identity provider's events,
    ``replicated`` for our own records); ``decode`` raises :class:`MalformedEvent` for a
    value it cannot read; ``create`` marks a topic of ours, created when it is missing.
    """

    channel: str
    decode: Callable[[bytes], Item]
    create: bool = False


def identity_provider_events(decode: Callable[[bytes], Event] = parse_record) -> TopicReader:
    """A topic the identity provider writes (FusionAuth, Keycloak JSON or FlatBuffers)."""
    return TopicReader("kafka", decode)


def replicated_revocations() -> TopicReader:
    """The revocations topic: our own records, written and read by every replica."""
    return TopicReader("replicated", RevocationRecord.decode, create=True)
