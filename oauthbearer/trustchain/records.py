"""Verify the token a Kafka record carries, judging its expiry at the record's time.

Events are often consumed long after they were produced: the token a user sent with a
request is expired by the time a lagging consumer reads the event. So expiry may be
judged at the *record's timestamp* (``judge_at="record"``, the default) — was the token
valid when the event was written? — with ``grace`` extra seconds on top of the verifier's
clock skew. It is never skipped, and ``nbf``/``iat`` are always judged at now.

Which timestamp counts: only one the producer could not choose. A ``LogAppendTime``
record was stamped by the broker, so it is judged at its timestamp. A ``CreateTime``
record (the topic default) carries whatever its producer wrote: anyone who may produce
to the topic and holds an old expired token could back-date a record into that token's
lifetime. Such a record is judged at now unless the caller vouches for its producers
(``trust_create_time=True``) or bounds the back-dating (``max_age``: a record older than
that is refused outright). A record without a timestamp, and ``judge_at="now"``, are
judged at now; a timestamp in the future counts as now.

Record shapes: confluent-kafka ``Message`` (``headers()``, ``timestamp()``), aiokafka and
kafka-python ``ConsumerRecord`` (``headers``, ``timestamp``, ``timestamp_type``),
:class:`KafkaRecord`, or a plain ``(headers, timestamp_ms)`` pair (taken as CreateTime).
Kafka timestamps are milliseconds since the epoch.

Example:
    >>> record = as_record(([("oauthbearer-token", b"abc")], 1_700_000_000_000))
    >>> record.timestamp, record.log_append_time
    (1700000000.0, False)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from oauthbearer._numeric_date import tolerance
from oauthbearer.errors import TokenRejected
from oauthbearer.trustchain.blocking import BlockingVerifier
from oauthbearer.trustchain.claims import VerifiedClaims
from oauthbearer.trustchain.headers import TOKEN_HEADER, HeadersIn, read_token
from oauthbearer.trustchain.verifiers import Verifier

__all__ = ["JudgeAt", "KafkaRecord", "as_record", "verify_record", "verify_record_async"]

JudgeAt = Literal["record", "now"]
Clock = Callable[[], float]

# librdkafka's TIMESTAMP_NOT_AVAILABLE and TIMESTAMP_LOG_APPEND_TIME; aiokafka and
# kafka-python use -1 for "no timestamp" and timestamp_type 1 for LogAppendTime.
_CONFLUENT_NO_TIMESTAMP = 0
_CONFLUENT_LOG_APPEND_TIME = 2
_LOG_APPEND_TIME_TYPE = 1


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What verification needs from a record: headers, timestamp (ms) and who stamped it.

    ``log_append_time`` is True when the broker stamped the timestamp (the topic's
    ``message.timestamp.type=LogAppendTime``); otherwise the producer chose it.
    Its repr names the headers, never their values: one of them is a token.
    """

    headers: HeadersIn
    timestamp_ms: int | None = None
    log_append_time: bool = False

    def __repr__(self) -> str:
        if self.headers is None:
            names: list[str] = []
        elif isinstance(self.headers, Mapping):
            names = list(self.headers)
        else:
            names = [name for name, _value in self.headers]
        return (
            f"KafkaRecord(header_names={names!r}, timestamp_ms={self.timestamp_ms!r}, "
            f"log_append_time={self.log_append_time!r})"
        )

    @property
    def timestamp(self) -> float | None:
        """The record's timestamp in epoch seconds, or None when it has none."""
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return None
        return self.timestamp_ms / 1000.0


def as_record(record: object) -> KafkaRecord:
    """A :class:`KafkaRecord` from any supported record shape (TypeError otherwise)."""
    if isinstance(record, KafkaRecord):
        return record
    if isinstance(record, tuple) and len(record) == 2:
        headers, timestamp_ms = record
        return KafkaRecord(headers, None if timestamp_ms is None else int(timestamp_ms))
    headers_attr: Any = getattr(record, "headers", None)
    timestamp_attr: Any = getattr(record, "timestamp", None)
    if callable(headers_attr) and callable(timestamp_attr):
        # confluent-kafka Message: headers() -> list | None; timestamp() -> (type, ms).
        kind, timestamp_ms = timestamp_attr()
        if kind == _CONFLUENT_NO_TIMESTAMP:
            return KafkaRecord(headers_attr(), None)
        by_broker = kind == _CONFLUENT_LOG_APPEND_TIME
        return KafkaRecord(headers_attr(), int(timestamp_ms), by_broker)
    if timestamp_attr is not None or headers_attr is not None:
        # aiokafka / kafka-python ConsumerRecord: attributes, timestamp in ms.
        if isinstance(timestamp_attr, int | float):
            by_broker = getattr(record, "timestamp_type", None) == _LOG_APPEND_TIME_TYPE
            return KafkaRecord(headers_attr, int(timestamp_attr), by_broker)
        return KafkaRecord(headers_attr, None)
    raise TypeError(f"not a Kafka record: {type(record).__name__}")


class _Judgement(NamedTuple):
    """When a record's token is judged, with what tolerance, and why then (for errors)."""

    at: float
    leeway: float | None  # None: the verifier's own clock skew
    grace: float
    basis: str
    note: str = ""


def _judgement(
    record: KafkaRecord,
    *,
    grace: float,
    judge_at: JudgeAt,
    max_age: float | None,
    trust_create_time: bool,
    clock: Clock,
    clock_skew: float | None,
) -> _Judgement:
    """When to judge ``record``'s token; raises when the record is too old."""
    # NaN and infinity would skip expiry without a word ("now >= exp + nan" is never
    # true): every bound must be a finite number, and judge_at one of the two words.
    tolerance("grace", grace)
    if max_age is not None:
        tolerance("max_age", max_age)
    if clock_skew is not None:
        tolerance("clock_skew", clock_skew)
    if judge_at not in ("record", "now"):
        raise ValueError(f'judge_at must be "record" or "now", not {judge_at!r}')
    now = clock()
    stamp = record.timestamp
    if max_age is not None and stamp is not None and now - stamp > max_age:
        raise TokenRejected(
            "too_old", f"record is {now - stamp:.0f} s old, more than max_age {max_age:g} s"
        )
    if judge_at == "now" or stamp is None:
        return _Judgement(now, clock_skew, grace, "now")
    if not (record.log_append_time or trust_create_time or max_age is not None):
        # The producer chose this timestamp: judging at it would let an old token be
        # replayed in a back-dated record. Now, with the grace, bounds that.
        return _Judgement(
            now,
            clock_skew,
            grace,
            "now",
            "; the record's CreateTime is its producer's to choose, so it counts only with "
            "trust_create_time=True or max_age (or a LogAppendTime topic)",
        )
    # Never judge later than now: a record stamped in the future gets no extra lifetime.
    return _Judgement(min(stamp, now), clock_skew, grace, "the record's timestamp")


def _explain_expiry(exc: TokenRejected, judgement: _Judgement) -> None:
    if exc.reason == "expired":
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(judgement.at))
        skew = "clock skew" if judgement.leeway is None else f"{judgement.leeway:g} s of skew"
        raise TokenRejected(
            "expired",
            f"expired before {judgement.basis} ({when}) plus {judgement.grace:g} s of grace "
            f"and the {skew}{judgement.note}",
            fingerprint=exc.fingerprint,
        ) from None


def _prepare(
    record: object,
    header: str,
    *,
    grace: float,
    judge_at: JudgeAt,
    max_age: float | None,
    trust_create_time: bool,
    clock: Clock,
    clock_skew: float | None,
) -> tuple[str, _Judgement]:
    """The token to verify and when to judge it (sync and async)."""
    view = as_record(record)
    token = read_token(view.headers, header=header)
    judgement = _judgement(
        view,
        grace=grace,
        judge_at=judge_at,
        max_age=max_age,
        trust_create_time=trust_create_time,
        clock=clock,
        clock_skew=clock_skew,
    )
    return token, judgement


def verify_record(
    record: object,
    verifier: BlockingVerifier,
    *,
    header: str = TOKEN_HEADER,
    grace: float = 0.0,
    judge_at: JudgeAt = "record",
    max_age: float | None = None,
    trust_create_time: bool = False,
    clock_skew: float | None = None,
    clock: Clock = time.time,
) -> VerifiedClaims:
    """The verified claims of the token in ``record``'s ``header`` (sync).

    Raises :class:`~oauthbearer.errors.TokenMissing` (no usable header),
    :class:`~oauthbearer.errors.TokenRejected` (``reason``: signature, issuer, audience,
    expired, …) or :class:`~oauthbearer.errors.UpstreamUnavailable` (no verdict: retry
    the record later, do not drop it). ``grace`` is added to the clock skew (the
    verifier's own unless ``clock_skew`` is given) as the tolerance on ``exp``; when it
    is judged is the module's note: the record's time for a broker-stamped record, for a
    producer-stamped one only with ``trust_create_time=True`` or ``max_age``, else now.

    Example::

        with BlockingVerifier(JwksVerifier(jwks_url, issuer=iss, audiences="urn:orders")) as v:
            for msg in iter(lambda: consumer.poll(1.0), None):
                claims = verify_record(msg, v, grace=600)
                print(claims["sub"])
    """
    token, judged = _prepare(
        record,
        header,
        grace=grace,
        judge_at=judge_at,
        max_age=max_age,
        trust_create_time=trust_create_time,
        clock=clock,
        clock_skew=clock_skew,
    )
    try:
        return verifier.verify(token, at=judged.at, leeway=judged.leeway, grace=judged.grace)
    except TokenRejected as exc:
        _explain_expiry(exc, judged)
        raise


async def verify_record_async(
    record: object,
    verifier: Verifier,
    *,
    header: str = TOKEN_HEADER,
    grace: float = 0.0,
    judge_at: JudgeAt = "record",
    max_age: float | None = None,
    trust_create_time: bool = False,
    clock_skew: float | None = None,
    clock: Clock = time.time,
) -> VerifiedClaims:
    """:func:`verify_record` for async consumers (aiokafka), with an async verifier.

    Example::

        async for record in consumer:  # aiokafka
            claims = await verify_record_async(record, verifier, grace=600)
    """
    token, judged = _prepare(
        record,
        header,
        grace=grace,
        judge_at=judge_at,
        max_age=max_age,
        trust_create_time=trust_create_time,
        clock=clock,
        clock_skew=clock_skew,
    )
    try:
        return await verifier.verify(token, at=judged.at, leeway=judged.leeway, grace=judged.grace)
    except TokenRejected as exc:
        _explain_expiry(exc, judged)
        raise
