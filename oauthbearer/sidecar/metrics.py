"""Prometheus metrics of the sidecar, in a registry of its own (one per app instance).

Labels are closed sets (result, source, reason): never a token, a fingerprint, a caller
secret or a ``sub`` — per-principal labels would also explode the series count.

Example:
    >>> m = Metrics()
    >>> m.request("active", "cache")
    >>> b'oauthbearer_sidecar_requests_total{result="active",source="cache"} 1.0' in m.render()
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE: str = CONTENT_TYPE_LATEST

# Upstream calls are bounded by a ≤ 3 s timeout by default; resolution matters below 1 s.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


_HIT, _MISS = ("hit",), ("miss",)


class LoopCounter(Collector):
    """A labelled counter kept as plain integers and read at scrape time.

    For the counters every request moves (requests, cache lookups): a
    ``prometheus_client`` ``Counter`` takes a lock per increment, and two of them were
    more than a microsecond of every answer. Increments come from the event loop's one
    thread only, so an integer needs no lock. The exposition is a counter's: ``_total``
    and ``_created`` per label set.

    Example:
        >>> registry = CollectorRegistry()
        >>> hits = LoopCounter("hits", "Hits.", ("kind",), registry=registry)
        >>> hits.inc(("cache",))
        >>> b'hits_total{kind="cache"} 1.0' in generate_latest(registry)
        True
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: tuple[str, ...],
        *,
        registry: CollectorRegistry,
        initial: tuple[tuple[str, ...], ...] = (),
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = labelnames
        self._counts: dict[tuple[str, ...], int] = {}
        self._created: dict[tuple[str, ...], float] = {}
        for labels in initial:
            self._counts[labels] = 0
            self._created[labels] = time.time()
        registry.register(self)

    def inc(self, labels: tuple[str, ...]) -> None:
        """Count one, for these label values (in ``labelnames`` order)."""
        counts = self._counts
        if labels in counts:
            counts[labels] += 1
        else:
            self._created[labels] = time.time()
            counts[labels] = 1

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for labels, value in list(self._counts.items()):
            family.add_metric(labels, value, created=self._created[labels])
        yield family


class Metrics:
    """The sidecar's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = LoopCounter(
            "oauthbearer_sidecar_requests",
            "Introspection requests by result (active, inactive, invalid_request, "
            "unauthorized, too_large, unavailable, limited) and deciding source "
            "(cache, jwks, upstream, none).",
            ("result", "source"),
            registry=self.registry,
        )
        self._upstream_latency = Histogram(
            "oauthbearer_sidecar_upstream_latency_seconds",
            "Latency of upstream RFC 7662 introspection calls, failures included.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._upstream_errors = Counter(
            "oauthbearer_sidecar_upstream_errors",
            "Failed upstream introspection calls by reason (timeout, connect, status, malformed, "
            "config: its Authorization file could not be read or sent).",
            ["reason"],
            registry=self.registry,
        )
        self._jwks_refreshes = Counter(
            "oauthbearer_sidecar_jwks_refreshes",
            "JWKS fetches by result (ok, error).",
            ["result"],
            registry=self.registry,
        )
        self._cache_entries = Gauge(
            "oauthbearer_sidecar_cache_entries",
            "Verdicts currently cached, by kind: active (bounded by "
            "OAUTHBEARER_CACHE_MAX_ENTRIES) or inactive (OAUTHBEARER_NEGATIVE_CACHE_MAX_ENTRIES).",
            ["kind"],
            registry=self.registry,
        )
        self._cache_hit_ratio = Gauge(
            "oauthbearer_sidecar_cache_hit_ratio",
            "Cache hits / lookups since start.",
            registry=self.registry,
        )
        self._cache_lookups = LoopCounter(
            "oauthbearer_sidecar_cache_lookups",
            "Cache lookups by outcome (hit, miss).",
            ("outcome",),
            registry=self.registry,
            initial=(("hit",), ("miss",)),
        )
        self._revocation_events = Counter(
            "oauthbearer_sidecar_revocation_events",
            "Revocation events received by source (kafka: an identity provider's topic, "
            "replicated: the revocations topic, keycloak, fusionauth, api), type (the known "
            "event types, other, malformed; principal, jti, token, session, everyone, "
            "application for records) and "
            "outcome (applied, duplicate, ignored, malformed; unauthorized: a webhook caller "
            "refused, with type other).",
            ["source", "type", "outcome"],
            registry=self.registry,
        )
        self._revocations_applied = Counter(
            "oauthbearer_sidecar_revocations_applied",
            "Revocations applied by kind (principal, jti, token, session, everyone, application).",
            ["kind"],
            registry=self.registry,
        )
        self._revocation_denials = Counter(
            "oauthbearer_sidecar_revocation_denials",
            "Otherwise active tokens answered inactive because of a revocation, by kind "
            "(watermark, jti, token, session, everyone, application).",
            ["kind"],
            registry=self.registry,
        )
        self._revocations_dropped = Counter(
            "oauthbearer_sidecar_revocations_dropped",
            "Live revocations forgotten because OAUTHBEARER_REVOCATION_MAX_ENTRIES was "
            "reached (raise it if this ever moves).",
            registry=self.registry,
        )
        self._revocation_entries = Gauge(
            "oauthbearer_sidecar_revocation_entries",
            "Revocations held (watermarks and denied tokens).",
            registry=self.registry,
        )
        self._revocation_lag = Gauge(
            "oauthbearer_sidecar_revocation_consumer_lag",
            "Records of the revocation topics not yet read (all topics and partitions).",
            registry=self.registry,
        )
        self._revocations_published = Counter(
            "oauthbearer_sidecar_revocations_published",
            "Webhook deliveries whose revocation records Kafka acknowledged (acknowledged) "
            "or did not (failed: answered 503, the sender retries).",
            ["outcome"],
            registry=self.registry,
        )

    def request(self, result: str, source: str) -> None:
        self._requests.inc((result, source))

    def cache_lookup(self, hit: bool) -> None:
        self._cache_lookups.inc(_HIT if hit else _MISS)

    def answered(self, result: str, source: str) -> None:
        """A 200 answer: :meth:`request` and :meth:`cache_lookup` (a hit when ``source`` is
        ``cache``) in one call, as every answered request moves both."""
        self._requests.inc((result, source))
        self._cache_lookups.inc(_HIT if source == "cache" else _MISS)

    def upstream_call(self, seconds: float, error: str | None) -> None:
        self._upstream_latency.observe(seconds)
        if error is not None:
            self._upstream_errors.labels(reason=error).inc()

    def jwks_refresh(self, result: str) -> None:
        self._jwks_refreshes.labels(result=result).inc()

    def revocation_event(self, source: str, type_: str, outcome: str) -> None:
        self._revocation_events.labels(source=source, type=type_, outcome=outcome).inc()

    def revocation_published(self, outcome: str) -> None:
        self._revocations_published.labels(outcome=outcome).inc()

    def revocation(self, kind: str) -> None:
        """The revocation store's observer: applied, ``denied:<kind>`` or ``dropped``."""
        if kind == "dropped":
            self._revocations_dropped.inc()
        elif kind.startswith("denied:"):
            self._revocation_denials.labels(kind=kind[len("denied:") :]).inc()
        else:
            self._revocations_applied.labels(kind=kind).inc()

    def watch_revocations(self, entries: Callable[[], float], lag: Callable[[], float]) -> None:
        """Read the store's size and the consumer lag at scrape time."""
        self._revocation_entries.set_function(entries)
        self._revocation_lag.set_function(lag)

    def watch_cache(
        self,
        active: Callable[[], float],
        inactive: Callable[[], float],
        hit_ratio: Callable[[], float],
    ) -> None:
        """Read cache sizes and hit ratio at scrape time, not on every request.

        Active and inactive entries are apart: each has its own bound, and a flood of
        garbage tokens fills only the inactive side (one sum made it look like the active
        cache was full).
        """
        self._cache_entries.labels(kind="active").set_function(active)
        self._cache_entries.labels(kind="inactive").set_function(inactive)
        self._cache_hit_ratio.set_function(hit_ratio)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
