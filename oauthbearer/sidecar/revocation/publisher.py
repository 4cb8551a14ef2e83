"""Writing revocation records to the revocations topic, and knowing when Kafka has them.

A webhook is answered 200 only once its records are acknowledged by the cluster: the
Keycloak emitter and FusionAuth drop an event they got 200 for, so a 200 for a record
that then never reached Kafka would lose the revocation on every other replica. Hence:

* an **idempotent producer with** ``acks=all``: a retry inside librdkafka never writes a
  record twice, and "acknowledged" means every in-sync replica has it;
* ``message.timeout.ms`` = ``OAUTHBEARER_REVOCATIONS_PUBLISH_TIMEOUT``: a cluster that
  cannot take the record within it fails the delivery, and the webhook answers 503, so
  the identity provider keeps the event and retries;
* a **thread** that serves the producer's delivery reports (``poll``) and hands each to
  the event loop, where :meth:`RevocationPublisher.publish` awaits them;
* a producer that hit a **fatal error** (possible for an idempotent producer whose
  sequence the broker lost) is replaced by a new one at the next publish, instead of
  failing every later webhook.

Example (needs a broker, so shown rather than run)::

    publisher = RevocationPublisher(producer_config(settings), "oauthbearer-revocations",
                                    timeout=5.0)
    publisher.start()
    await publisher.publish([record])     # raises PublishFailed → 503
    publisher.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from confluent_kafka import KafkaError, KafkaException, Producer

from oauthbearer.sidecar.revocation.kafka_errors import kafka_reason
from oauthbearer.sidecar.revocation.records import RevocationRecord

__all__ = ["PublishFailed", "RevocationPublisher", "producer_settings"]

logger = logging.getLogger("oauthbearer.sidecar.revocation")

_POLL_S = 0.1


class PublishFailed(Exception):
    """Kafka did not acknowledge a revocation record in time (→ 503, the sender retries)."""


class RecordProducer(Protocol):
    """The part of confluent-kafka's ``Producer`` used here (a seam for tests)."""

    def produce(
        self,
        topic: str,
        value: str | bytes | None = ...,
        key: str | bytes | None = ...,
        partition: int = ...,
        callback: Any = ...,
        on_delivery: Any = ...,
    ) -> None: ...
    def poll(self, timeout: float = ...) -> int: ...
    def flush(self, timeout: float = ...) -> int: ...


def producer_settings(base: dict[str, Any], timeout: float) -> dict[str, Any]:
    """The producer's librdkafka configuration on top of the cluster's ``base`` settings.

    Example:
        >>> c = producer_settings({"bootstrap.servers": "kafka:9092"}, timeout=5.0)
        >>> c["enable.idempotence"], c["acks"], c["message.timeout.ms"]
        (True, 'all', 5000)
    """
    return {
        **base,
        "enable.idempotence": True,
        "acks": "all",
        # A webhook waits for its record: send at once rather than batch for throughput.
        "linger.ms": 0,
        "message.timeout.ms": int(timeout * 1000),
        "client.id": "oauthbearer-sidecar-revocations",
    }


class RevocationPublisher:
    """Produces :class:`RevocationRecord` values to one topic and awaits their acks."""

    def __init__(
        self,
        config: dict[str, Any],
        topic: str,
        *,
        timeout: float,
        producer_factory: Callable[[dict[str, Any]], RecordProducer] = Producer,
        observe: Callable[[str], None] = lambda _outcome: None,
        report_slack: float = 5.0,
        retry_interval: float = 5.0,
        max_outbox: int = 10_000,
    ) -> None:
        self.topic = topic
        self._report_slack = report_slack
        self._config = {**config, "error_cb": self._on_error}
        self._timeout = timeout
        self._factory = producer_factory
        self._observe = observe
        self._producer: RecordProducer | None = None
        self._fatal = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Records Kafka did not take, by event id, published again in the background until
        # it does: the sender's retries are not to be relied on (FusionAuth gives up after a
        # few), and without them no other replica would ever hear of the revocation.
        self._outbox: dict[str, RevocationRecord] = {}
        self._max_outbox = max_outbox
        self._retry_interval = retry_interval
        self._retrying: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Create the producer (configuration errors raise here) and its poll thread."""
        self._producer = self._factory(self._config)
        self._thread = threading.Thread(
            target=self._serve_reports, name="oauthbearer-revocations-producer", daemon=True
        )
        self._thread.start()

    @property
    def outbox(self) -> int:
        """Records waiting to be published again (for tests and the logs)."""
        return len(self._outbox)

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (at most ``timeout`` seconds), then stop the thread.

        Blocking: the sidecar runs it on a worker thread.
        """
        retrying, self._retrying = self._retrying, None
        if retrying is not None and not retrying.done():
            # Cancelled on its own loop's thread: Task.cancel from this worker thread
            # raised under asyncio's debug mode (and skipped the rest of the shutdown),
            # and otherwise changed the loop's queue without waking it.
            loop = retrying.get_loop()
            if _running_loop() is loop:
                retrying.cancel()
            elif not loop.is_closed():
                loop.call_soon_threadsafe(retrying.cancel)
        if self._outbox:
            logger.warning(
                "%d revocation record(s) never reached %s; only the senders' retries can "
                "bring them to the other replicas now",
                len(self._outbox),
                self.topic,
            )
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(timeout)

    async def publish(self, records: Sequence[RevocationRecord]) -> None:
        """Write ``records`` and return once Kafka acknowledged every one.

        Raises :class:`PublishFailed` when any is refused or not acknowledged within the
        timeout; the caller answers 503 and the sender retries the whole delivery (the
        records dedupe on their event id, so a partial success does no harm). The records
        are also kept and published again in the background until Kafka takes them.
        """
        try:
            await self._send(records)
        except PublishFailed:
            self._keep(records)
            raise
        for record in records:  # a sender's retry got through: nothing left to resend
            self._outbox.pop(record.event_id, None)

    def _keep(self, records: Sequence[RevocationRecord]) -> None:
        for record in records:
            self._outbox.pop(record.event_id, None)
            self._outbox[record.event_id] = record
        while len(self._outbox) > self._max_outbox:
            del self._outbox[next(iter(self._outbox))]  # the oldest go first
            self._observe("dropped")
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.get_running_loop().create_task(self._resend())

    async def _resend(self) -> None:
        """Publish the outbox again, backing off to a minute, until it is empty."""
        delay = self._retry_interval
        while self._outbox and not self._stop.is_set():
            await asyncio.sleep(delay)
            waiting = list(self._outbox.values())
            try:
                await self._send(waiting)
            except PublishFailed:
                delay = min(delay * 2, 60.0)
                continue
            for record in waiting:
                self._outbox.pop(record.event_id, None)
            logger.info("revocation record(s) published on retry: %d", len(waiting))
            delay = self._retry_interval

    async def _send(self, records: Sequence[RevocationRecord]) -> None:
        if not records:
            return
        loop = asyncio.get_running_loop()
        acks: list[asyncio.Future[None]] = []
        try:
            # A fatal error's replacement is built off the event loop: confluent-kafka's
            # constructor calls oauth_cb (OAUTHBEARER_EVENTS_OAUTH), which may fetch a
            # token for up to its timeout, and every introspection would wait behind it.
            producer = await asyncio.to_thread(self._current) if self._fatal else self._current()
            for record in records:
                ack: asyncio.Future[None] = loop.create_future()
                producer.produce(
                    self.topic,
                    value=record.encode(),
                    key=record.key,
                    on_delivery=_reporter(loop, ack),
                )
                acks.append(ack)
            # The producer's own timeout fails a delivery first; this bound only guards
            # against a report that never comes (a producer closed under us).
            await asyncio.wait_for(asyncio.gather(*acks), self._timeout + self._report_slack)
        except (KafkaException, BufferError, TimeoutError, PublishFailed) as exc:
            for ack in acks:
                ack.cancel()
            self._observe("failed")
            if isinstance(exc, KafkaException):
                self._note_fatal(exc)
            if isinstance(exc, PublishFailed):
                reason = str(exc)
            elif isinstance(exc, KafkaException):
                reason = kafka_reason(exc)
            else:  # BufferError: the local queue is full; TimeoutError: no report came
                reason = type(exc).__name__
            logger.warning("revocation record(s) not acknowledged by %s: %s", self.topic, reason)
            raise PublishFailed(reason) from None
        self._observe("acknowledged")

    def _current(self) -> RecordProducer:
        with self._lock:
            if self._producer is None:
                raise PublishFailed("the revocations producer is stopped")
            if self._fatal:
                # librdkafka's answer to a fatal error is a new producer instance.
                logger.warning("revocations producer: fatal error; starting a new producer")
                self._producer = self._factory(self._config)
                self._fatal = False
            return self._producer

    def _on_error(self, error: KafkaError) -> None:
        if error.fatal():
            logger.error("revocations producer: fatal error %s", error.name())
            self._fatal = True

    def _note_fatal(self, exc: KafkaException) -> None:
        # A producer in a fatal state raises from produce() and poll() (an idempotent one
        # whose producer id the broker forgot: UNKNOWN_PRODUCER_ID after a restart).
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError) and (error.fatal() or error.code() == KafkaError._FATAL):
            self._fatal = True

    def _serve_reports(self) -> None:
        while not self._stop.is_set():
            producer = self._producer
            if producer is None:
                return
            try:
                producer.poll(_POLL_S)
            except KafkaException as exc:
                self._note_fatal(exc)
                logger.warning("revocations producer: %s", kafka_reason(exc))
                self._stop.wait(_POLL_S)
            except Exception as exc:  # noqa: BLE001 - logged; the thread must go on
                logger.error(  # noqa: TRY400 - no traceback: it may quote a payload
                    "revocations producer: poll failed: %s", type(exc).__name__
                )
                self._stop.wait(_POLL_S)


def _reporter(loop: asyncio.AbstractEventLoop, ack: asyncio.Future[None]) -> Any:
    """A delivery callback (run on the poll thread) that settles ``ack`` on the loop."""

    def settle(error: KafkaError | None) -> None:
        if ack.done():
            return
        if error is None:
            ack.set_result(None)
        else:
            ack.set_exception(PublishFailed(error.name()))

    def on_delivery(error: KafkaError | None, _message: Any) -> None:
        # A closed loop (RuntimeError) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, error)

    return on_delivery


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
