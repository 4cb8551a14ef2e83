"""Verify the token a Kafka record carries, judging its expiry at the record's time.

Events are often consumed long after they were produced: the token a user sent with a
request is expired by the time a lagging consumer reads the event. So expiry is judged
at the *record's timestamp* (``judge_at="record"``, the default) — was the token valid
when the event was produced? — with ``grace`` extra seconds on top of the verifier's
clock skew. It is never skipped: a record without a timestamp is judged at now, and
``judge_at="now"`` judges every record at now. ``max_age`` optionally bounds how old a
record may be at all.

Which timestamp: with the topic's default ``message.timestamp.type=CreateTime`` the
*producer* sets it, so a producer holding an old expired token could back-date a record
to make it look valid. Use ``LogAppendTime`` on the topic (the broker stamps it), set
``max_age``, or ``judge_at="now"`` when producers are not trusted that far.

Record shapes: confluent-kafka ``Message`` (``headers()``, ``timestamp()``), aiokafka
``ConsumerRecord`` (``headers``, ``timestamp``), :class:`KafkaRecord`, or a plain
``(headers, timestamp_ms)`` pair. Kafka timestamps are milliseconds since the epoch.

Example:
    >>> record = as_record(([("oauthbearer-token", b"abc")], 1_700_000_000_000))
    >>> record.timestamp
    1700000000.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from oauthbearer.errors import TokenRejected
from oauthbearer.trustchain.blocking import BlockingVerifier
from oauthbearer.trustchain.claims import VerifiedClaims
from oauthbearer.trustchain.headers import TOKEN_HEADER, HeadersIn, read_token
from oauthbearer.trustchain.verifiers import Verifier

__all__ = ["JudgeAt", "KafkaRecord", "as_record", "verify_record", "verify_record_async"]

JudgeAt = Literal["record", "now"]
Clock = Callable[[], float]

# librdkafka's TIMESTAMP_NOT_AVAILABLE; aiokafka and kafka-python use -1 for "none".
_CONFLUENT_NO_TIMESTAMP = 0


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """The two things verification needs from a record: headers and timestamp (ms).

    Its repr names the headers, never their values: one of them is a token.
    """

    headers: HeadersIn
    timestamp_ms: int | None = None

    def __repr__(self) -> str:
        if self.headers is None:
            names: list[str] = []
        elif isinstance(self.headers, Mapping):
            names = list(self.headers)
        else:
            names = [name for name, _value in self.headers]
        return f"KafkaRecord(header_names={names!r}, timestamp_ms={self.timestamp_ms!r})"

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
        no_timestamp = kind == _CONFLUENT_NO_TIMESTAMP
        return KafkaRecord(headers_attr(), None if no_timestamp else int(timestamp_ms))
    if timestamp_attr is not None or headers_attr is not None:
        # aiokafka / kafka-python ConsumerRecord: attributes, timestamp in ms.
        if isinstance(timestamp_attr, int | float):
            return KafkaRecord(headers_attr, int(timestamp_attr))
        return KafkaRecord(headers_attr, None)
    raise TypeError(f"not a Kafka record: {type(record).__name__}")


def _judgement(
    record: KafkaRecord,
    *,
    grace: float,
    judge_at: JudgeAt,
    max_age: float | None,
    clock: Clock,
    clock_skew: float,
) -> tuple[float, float]:
    """(time to judge at, leeway) for ``record``; raises when it is too old."""
    # NaN and infinity would skip expiry without a word ("now >= exp + nan" is never
    # true): every bound must be a finite number, and judge_at one of the two words.
    if not math.isfinite(grace) or grace < 0:
        raise ValueError("grace must be a finite number of seconds, not negative")
    if max_age is not None and (not math.isfinite(max_age) or max_age < 0):
        raise ValueError("max_age must be a finite number of seconds, not negative")
    if not math.isfinite(clock_skew) or clock_skew < 0:
        raise ValueError("clock_skew must be a finite number of seconds, not negative")
    if judge_at not in ("record", "now"):
        raise ValueError(f'judge_at must be "record" or "now", not {judge_at!r}')
    now = clock()
    stamp = record.timestamp
    if max_age is not None and stamp is not None and now - stamp > max_age:
        raise TokenRejected(
            "too_old", f"record is {now - stamp:.0f} s old, more than max_age {max_age:g} s"
        )
    # Never judge later than now: a record stamped in the future gets no extra lifetime.
    at = now if judge_at == "now" or stamp is None else min(stamp, now)
    return at, clock_skew + grace


def _explain_expiry(exc: TokenRejected, at: float, leeway: float, judge_at: JudgeAt) -> None:
    if exc.reason == "expired":
        moment = "the record's timestamp" if judge_at == "record" else "now"
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
        raise TokenRejected(
            "expired",
            f"expired before {moment} ({when}) plus {leeway:g} s of grace and clock skew",
            fingerprint=exc.fingerprint,
        ) from None


def _prepare(
    record: object,
    header: str,
    *,
    grace: float,
    judge_at: JudgeAt,
    max_age: float | None,
    clock: Clock,
    clock_skew: float,
) -> tuple[str, float, float]:
    """The token to verify, the instant to judge it at, and the leeway (sync and async)."""
    view = as_record(record)
    token = read_token(view.headers, header=header)
    at, leeway = _judgement(
        view, grace=grace, judge_at=judge_at, max_age=max_age, clock=clock, clock_skew=clock_skew
    )
    return token, at, leeway


def verify_record(
    record: object,
    verifier: BlockingVerifier,
    *,
    header: str = TOKEN_HEADER,
    grace: float = 0.0,
    judge_at: JudgeAt = "record",
    max_age: float | None = None,
    clock_skew: float = 30.0,
    clock: Clock = time.time,
) -> VerifiedClaims:
    """The verified claims of the token in ``record``'s ``header`` (sync).

    Raises :class:`~oauthbearer.errors.TokenMissing` (no usable header),
    :class:`~oauthbearer.errors.TokenRejected` (``reason``: signature, issuer, audience,
    expired, …) or :class:`~oauthbearer.errors.UpstreamUnavailable` (no verdict: retry
    the record later, do not drop it). ``grace`` is added to ``clock_skew`` as the
    tolerance around the judging time.

    Example::

        with BlockingVerifier(JwksVerifier(jwks_url, issuer=iss, audiences="urn:orders")) as v:
            for msg in iter(lambda: consumer.poll(1.0), None):
                claims = verify_record(msg, v, grace=600)
                print(claims["sub"])
    """
    token, at, leeway = _prepare(
        record,
        header,
        grace=grace,
        judge_at=judge_at,
        max_age=max_age,
        clock=clock,
        clock_skew=clock_skew,
    )
    try:
        return verifier.verify(token, at=at, leeway=leeway)
    except TokenRejected as exc:
        _explain_expiry(exc, at, leeway, judge_at)
        raise


async def verify_record_async(
    record: object,
    verifier: Verifier,
    *,
    header: str = TOKEN_HEADER,
    grace: float = 0.0,
    judge_at: JudgeAt = "record",
    max_age: float | None = None,
    clock_skew: float = 30.0,
    clock: Clock = time.time,
) -> VerifiedClaims:
    """:func:`verify_record` for async consumers (aiokafka), with an async verifier.

    Example::

        async for record in consumer:  # aiokafka
            claims = await verify_record_async(record, verifier, grace=600)
    """
    token, at, leeway = _prepare(
        record,
        header,
        grace=grace,
        judge_at=judge_at,
        max_age=max_age,
        clock=clock,
        clock_skew=clock_skew,
    )
    try:
        return await verifier.verify(token, at=at, leeway=leeway)
    except TokenRejected as exc:
        _explain_expiry(exc, at, leeway, judge_at)
        raise
