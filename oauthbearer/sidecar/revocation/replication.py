"""The Kafka side of one sidecar's revocations: what it reads, and what it writes.

One consumer reads every configured topic in full (the identity provider's and our
revocations topic); one idempotent producer writes the revocations this replica's
webhooks accept to the revocations topic. Together they make N replicas one system:

* a revocation POSTed to any replica is on the topic before the webhook gets its 200,
  and every replica (the writer too) applies it from there, deduped on its event id;
* a restarted replica replays the topic's last ``max token lifetime`` before ``/readyz``
  says ready, so it forgets nothing that still matters.

Importing this module imports confluent-kafka: the app does so only when
``OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS`` is set.

Example (needs a broker, so shown rather than run)::

    replication = Replication(settings, revocations, clock=time.time)
    replication.start(asyncio.get_running_loop())   # in the app's lifespan
    ...
    await replication.stop()
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable

from oauthbearer.sidecar.revocation.client_config import consumer_config, kafka_config
from oauthbearer.sidecar.revocation.kafka_source import KafkaEventSource
from oauthbearer.sidecar.revocation.keycloak_flatbuffers import (
    kafka_admin_record,
    kafka_user_record,
)
from oauthbearer.sidecar.revocation.publisher import (
    RevocationPublisher,
    producer_settings,
)
from oauthbearer.sidecar.revocation.service import Revocations
from oauthbearer.sidecar.revocation.topic_admin import create_topic
from oauthbearer.sidecar.revocation.topic_readers import (
    Item,
    TopicReader,
    identity_provider_events,
    replicated_revocations,
)
from oauthbearer.sidecar.settings import SidecarSettings

__all__ = ["Replication", "topic_readers"]

Clock = Callable[[], float]


def topic_readers(settings: SidecarSettings) -> dict[str, TopicReader]:
    """Each configured topic and how its records are read.

    Example:
        >>> s = SidecarSettings(events_bootstrap_servers="k:9092",
        ...                     keycloak_event_topic="kc", revocations_topic="revocations")
        >>> {topic: reader.channel for topic, reader in topic_readers(s).items()}
        {'kc': 'kafka', 'revocations': 'replicated'}
    """
    readers: dict[str, TopicReader] = {}
    if settings.events_topic is not None:
        readers[settings.events_topic] = identity_provider_events()
    if settings.keycloak_event_topic is not None:
        readers[settings.keycloak_event_topic] = identity_provider_events(kafka_user_record)
    if settings.keycloak_admin_event_topic is not None:
        readers[settings.keycloak_admin_event_topic] = identity_provider_events(kafka_admin_record)
    if settings.revocations_topic is not None:
        readers[settings.revocations_topic] = replicated_revocations()
    return readers


class Replication:
    """The consumer of every revocation topic and the producer of ours, for one sidecar."""

    def __init__(
        self,
        settings: SidecarSettings,
        revocations: Revocations,
        *,
        clock: Clock,
        observe_publish: Callable[[str], None] = lambda _outcome: None,
    ) -> None:
        self._settings = settings
        self._revocations = revocations
        self._clock = clock
        # Beyond the longest token lifetime, plus the skew validation tolerates on exp.
        self._window = settings.revocation_max_token_lifetime + settings.clock_skew
        self.source: KafkaEventSource | None = None
        self.publisher: RevocationPublisher | None = None
        if settings.revocations_topic is not None:
            self.publisher = RevocationPublisher(
                producer_settings(kafka_config(settings), settings.revocations_publish_timeout),
                settings.revocations_topic,
                timeout=settings.revocations_publish_timeout,
                observe=observe_publish,
            )

    @property
    def lag(self) -> int:
        return self.source.lag if self.source is not None else 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the producer, then the consumer (whose replay gates ``/readyz``)."""
        revocations = self._revocations

        def deliver(items: list[tuple[str, Item]]) -> None:
            # The consumer thread never touches the store or the cache: the loop applies.
            loop.call_soon_threadsafe(revocations.apply_batch, items)

        def caught_up() -> None:
            # Queued behind the last replayed batch, so "ready" means it was applied.
            loop.call_soon_threadsafe(setattr, revocations, "replayed", True)

        if self.publisher is not None:
            self.publisher.start()
        self.source = KafkaEventSource(
            consumer_config(self._settings),
            topic_readers(self._settings),
            replay_seconds=self._window,
            deliver=deliver,
            on_caught_up=caught_up,
            clock=self._clock,
            create_topic=functools.partial(
                create_topic, kafka_config(self._settings), retention_seconds=self._window
            ),
        )
        self.source.start()

    async def stop(self) -> None:
        if self.source is not None:
            await asyncio.to_thread(self.source.stop)
            self.source = None
        if self.publisher is not None:
            await asyncio.to_thread(self.publisher.stop)
