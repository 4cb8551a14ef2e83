"""What the token provider reports, and an adapter for prometheus-client.

confluent-kafka swallows a failing callback's message (CONTRACT §6), so counting our own
fetches and failures is the only way an operator sees an outage coming. The hook is a
two-method protocol; prometheus-client is imported only by :class:`PrometheusMetrics`.

Example:
    >>> class Recorder:
    ...     def __init__(self): self.outcomes = []
    ...     def fetch_finished(self, *, outcome, seconds): self.outcomes.append(outcome)
    ...     def token_updated(self, *, expires_at): pass
    >>> r = Recorder(); r.fetch_finished(outcome="ok", seconds=0.1); r.outcomes
    ['ok']
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from oauthbearer.errors import (
    ConfigurationError,
    OAuthBearerError,
    TokenEndpointError,
    TokenRequestError,
    TokenResponseError,
)

__all__ = ["OUTCOMES", "MetricsHook", "NullMetrics", "PrometheusMetrics", "outcome_of"]

#: Every ``outcome`` label value (bounded, so it is safe as a Prometheus label).
OUTCOMES = ("ok", "network", "rejected", "unavailable", "invalid_response", "configuration")


class MetricsHook(Protocol):
    """Receives one call per fetch attempt and one per new token."""

    def fetch_finished(self, *, outcome: str, seconds: float) -> None:
        """A fetch attempt ended; ``outcome`` is one of :data:`OUTCOMES`."""
        ...

    def token_updated(self, *, expires_at: float) -> None:
        """A new token is in the cache; it expires at ``expires_at`` (epoch seconds)."""
        ...


class NullMetrics:
    """The default hook: records nothing."""

    def fetch_finished(self, *, outcome: str, seconds: float) -> None:
        """Ignore the fetch."""

    def token_updated(self, *, expires_at: float) -> None:
        """Ignore the token."""


def outcome_of(exc: BaseException | None) -> str:
    """The ``outcome`` label for a fetch that ended with ``exc`` (``None``: success).

    Example:
        >>> from oauthbearer.errors import TokenEndpointError
        >>> outcome_of(TokenEndpointError("idp", 503)), outcome_of(None)
        ('unavailable', 'ok')
    """
    if exc is None:
        return "ok"
    if isinstance(exc, TokenRequestError):
        return "network"
    if isinstance(exc, TokenEndpointError):
        return "unavailable" if exc.retryable else "rejected"
    if isinstance(exc, TokenResponseError):
        return "invalid_response"
    if isinstance(exc, ConfigurationError):
        return "configuration"
    if isinstance(exc, OAuthBearerError):
        return "invalid_response"
    return "network"


class PrometheusMetrics:
    """Prometheus collectors for the hook (needs the ``prometheus`` extra).

    * ``<namespace>_fetches_total{outcome}`` — fetch attempts by outcome
    * ``<namespace>_fetch_duration_seconds`` — latency histogram
    * ``<namespace>_token_expiry_seconds`` — seconds until the cached token expires

    Example:
        >>> from prometheus_client import CollectorRegistry
        >>> registry = CollectorRegistry()
        >>> m = PrometheusMetrics(registry=registry, clock=lambda: 100.0)
        >>> m.token_updated(expires_at=400.0)
        >>> registry.get_sample_value("oauthbearer_client_token_expiry_seconds")
        300.0
    """

    def __init__(
        self,
        *,
        registry: Any = None,
        namespace: str = "oauthbearer_client",
        clock: Callable[[], float] = time.time,
    ) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            raise ConfigurationError(
                "prometheus-client", "is not installed; pip install 'oauthbearer[prometheus]'"
            ) from None
        kwargs: dict[str, Any] = {"namespace": namespace}
        if registry is not None:
            kwargs["registry"] = registry
        self._clock = clock
        self._lock = threading.Lock()
        self._expires_at: float | None = None
        try:
            self._fetches = prom.Counter(
                "fetches", "Token fetch attempts by outcome", ["outcome"], **kwargs
            )
        except ValueError:  # "Duplicated timeseries in CollectorRegistry"
            raise ConfigurationError(
                "PrometheusMetrics",
                f"{namespace}_* are registered already: pass the one instance to every "
                "provider, or give each its own registry= or namespace=",
            ) from None
        for outcome in OUTCOMES:  # export zeros, so rate() works from the first scrape
            self._fetches.labels(outcome=outcome)
        self._latency = prom.Histogram("fetch_duration_seconds", "Token fetch latency", **kwargs)
        self._expiry = prom.Gauge(
            "token_expiry_seconds", "Seconds until the cached token expires", **kwargs
        )
        self._expiry.set_function(self._seconds_left)

    def _seconds_left(self) -> float:
        with self._lock:
            expires_at = self._expires_at
        return 0.0 if expires_at is None else max(0.0, expires_at - self._clock())

    def fetch_finished(self, *, outcome: str, seconds: float) -> None:
        self._fetches.labels(outcome=outcome).inc()
        self._latency.observe(seconds)

    def token_updated(self, *, expires_at: float) -> None:
        with self._lock:
            self._expires_at = expires_at
