"""The decision log: every fresh decision on its own line, cache hits summed per interval.

A fresh decision — a JWT verified against the JWKS, an upstream introspection, a refusal,
a revocation denial, an error — is one JSON line at INFO with the token's fingerprint:
that is the audit trail. A cache hit repeats a decision already logged; writing a line per
hit cost about 40 % of a hit's throughput (issue 14), so by default hits are counted per
caller, principal and result, and one ``cache hits`` line per combination is written every
``interval`` seconds (and at shutdown):

    {"message": "cache hits", "caller": "broker-1", "sub": "orders", "result": "active",
     "source": "cache", "count": 5210, "interval_s": 10.0}

``OAUTHBEARER_DECISION_LOG_HITS=each`` (or ``OAUTHBEARER_LOG_LEVEL=DEBUG``) logs every hit
as its own decision line instead.

Example:
    >>> log = DecisionLog(each_hit=False, interval=10.0)
    >>> log.hit("broker-1", "some-token", "active", "orders", started=0.0)
    >>> log.hit("broker-1", "other-token", "active", "orders", started=0.0)
    >>> log.pending()
    {('broker-1', 'orders', 'active'): 2}
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from oauthbearer._secret import fingerprint, fingerprint_of_digest
from oauthbearer.sidecar.logs import decision_logger, direct_lines, emit_decision

__all__ = ["DecisionLog"]

#: Distinct (caller, principal, result) combinations counted per interval; beyond it,
#: hits are counted under the principal ``None`` (memory stays bounded under a flood of
#: principals, and no hit goes uncounted).
MAX_KEYS = 10_000


class DecisionLog:
    """Writes decision lines to :data:`~oauthbearer.sidecar.logs.decision_logger`."""

    __slots__ = ("_each_hit", "_hits", "_interval", "_since")

    def __init__(self, *, each_hit: bool, interval: float = 10.0) -> None:
        self._each_hit = each_hit
        self._interval = interval
        self._hits: dict[tuple[str | None, object, str], int] = {}
        self._since = time.monotonic()

    def decision(
        self,
        caller: str | None,
        token: str | None,
        result: str,
        source: str,
        started: float,
        reason: str | None = None,
        sub: object = None,
        *,
        key: bytes | None = None,
    ) -> None:
        """One fresh decision, on its own line (WARNING when the upstream failed).

        ``key``, the token's SHA-256 digest when the caller has it already (the cache key),
        saves hashing the token again for its fingerprint.
        """
        level = logging.WARNING if result == "unavailable" else logging.INFO
        if not decision_logger.isEnabledFor(level):
            return
        elapsed = time.perf_counter() - started
        lines = direct_lines()
        if lines is not None:
            # Queued as fields: the line is spelled out with the rest of the turn's.
            name = "INFO" if level == logging.INFO else "WARNING"  # getLevelName, unrolled
            # A log_lines.PendingDecision: the digest is fingerprinted when the line is written.
            digest = key if key is not None else None if token is None else fingerprint(token)
            lines.write((time.time(), name, caller, digest, sub, result, source, elapsed, reason))
            return
        if key is not None:
            token_label: str | None = fingerprint_of_digest(key)
        else:
            token_label = fingerprint(token) if token is not None else None
        latency_ms = round(elapsed * 1000, 3)
        decision: dict[str, Any] = {
            "caller": caller,
            "token": token_label,
            "sub": sub,
            "result": result,
            "source": source,
            "latency_ms": latency_ms,
        }
        if reason is not None:
            decision["reason"] = reason
        decision_logger.log(level, "decision", extra={"decision": decision})

    def hit(
        self,
        caller: str,
        token: str,
        result: str,
        sub: object,
        started: float,
        *,
        key: bytes | None = None,
    ) -> None:
        """A verdict served from the cache: counted, or logged on its own if so configured."""
        if self._each_hit:
            self.decision(caller, token, result, "cache", started, None, sub, key=key)
            return
        slot = (caller, sub, result)
        hits = self._hits
        if slot in hits:
            hits[slot] += 1
        elif len(hits) < MAX_KEYS:
            hits[slot] = 1
        else:
            overflow = (caller, None, result)
            hits[overflow] = hits.get(overflow, 0) + 1

    def pending(self) -> dict[tuple[str | None, object, str], int]:
        """The hits counted since the last :meth:`flush` (for tests and ``/metrics``)."""
        return dict(self._hits)

    def flush(self) -> None:
        """Write one ``cache hits`` line per (caller, principal, result) and start over."""
        hits, self._hits = self._hits, {}
        now = time.monotonic()
        interval, self._since = round(now - self._since, 3), now
        if not hits or not decision_logger.isEnabledFor(logging.INFO):
            return
        for (caller, sub, result), count in hits.items():
            summary = {
                "caller": caller,
                "sub": sub,
                "result": result,
                "source": "cache",
                "count": count,
                "interval_s": interval,
            }
            emit_decision(logging.INFO, "cache hits", summary)

    async def run_periodic_flush(self) -> None:
        """Flush every ``interval`` seconds until cancelled (then flush once more)."""
        try:
            while True:
                await asyncio.sleep(self._interval)
                self.flush()
        finally:
            self.flush()
