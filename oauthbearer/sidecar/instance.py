"""One sidecar instance: its components wired from settings, and their lifetime.

The cache, the JWKS store and validator, the upstream introspector, the revocation store
and its replication, the per-caller limits, metrics and the decision log are built here
once; :mod:`oauthbearer.sidecar.app` puts routes in front of them. The lifespan opens the
shared HTTP client (unless one is injected), starts the periodic tasks (JWKS refresh,
hit summaries, certificate reload) and the revocation consumer, and stops them in order.

Example:
    >>> settings = SidecarSettings(jwks_url="https://idp.example/jwks", allow_anonymous=True)
    >>> sidecar = Sidecar(settings)
    >>> sidecar.jwks is not None, sidecar.upstream  # the upstream is bound in the lifespan
    (True, None)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette

from oauthbearer.errors import MissingExtra
from oauthbearer.sidecar.answer import IntrospectionAnswer
from oauthbearer.sidecar.cache import ResultCache
from oauthbearer.sidecar.callers import CallerAuthenticator
from oauthbearer.sidecar.decision_log import DecisionLog
from oauthbearer.sidecar.introspector import Introspector
from oauthbearer.sidecar.limits import CallerLimits
from oauthbearer.sidecar.metrics import Metrics
from oauthbearer.sidecar.probes import Probes
from oauthbearer.sidecar.revocation.service import Revocations
from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.sidecar.tls import CertificateReloader, server_context
from oauthbearer.sidecar.upstream_client import upstream_client
from oauthbearer.sidecar.warnings import start_up_warnings
from oauthbearer.verify.jwks import JwksStore
from oauthbearer.verify.jwt_validator import JwtValidator
from oauthbearer.verify.upstream import UpstreamIntrospector

if TYPE_CHECKING:
    from oauthbearer.sidecar.revocation.replication import Replication

__all__ = ["Sidecar"]

Clock = Callable[[], float]
logger = logging.getLogger("oauthbearer.sidecar")


class Sidecar:
    """The components of one sidecar instance, wired from settings."""

    def __init__(
        self,
        settings: SidecarSettings,
        *,
        http_client: httpx.AsyncClient | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.tls: CertificateReloader | None = None
        if settings.tls_cert_file is not None and settings.tls_key_file is not None:
            self.tls = CertificateReloader(
                server_context(
                    settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file
                ),
                settings.tls_cert_file,
                settings.tls_key_file,
            )
        # At DEBUG every hit is a line of its own, as OAUTHBEARER_DECISION_LOG_HITS=each.
        self.decisions = DecisionLog(
            each_hit=settings.decision_log_hits == "each" or settings.log_level == "DEBUG"
        )
        self.http_client = http_client
        self.callers = CallerAuthenticator(
            settings.callers,
            settings.caller_bearer_tokens,
            allow_anonymous=settings.allow_anonymous,
        )
        self.limits = CallerLimits(
            max_inflight=settings.caller_max_inflight,
            max_queued=settings.caller_max_queued,
            wait_timeout=settings.upstream_timeout,
        )
        self.cache = ResultCache(
            ttl=settings.cache_ttl,
            max_entries=settings.cache_max_entries,
            negative_ttl=settings.negative_cache_ttl,
            negative_max_entries=settings.negative_cache_max_entries,
            clock=clock,
            # The real wall clock gets a monotonic partner for the TTL; an injected (fake)
            # clock drives both, so tests can age entries by advancing it.
            ttl_clock=time.monotonic if clock is time.time else None,
        )
        cache = self.cache
        self.metrics.watch_cache(
            lambda: cache.active_entries, lambda: cache.inactive_entries, lambda: cache.hit_ratio
        )
        self.jwks: JwksStore | None = None
        jwt: JwtValidator | None = None
        if settings.jwks_url is not None:
            self.jwks = JwksStore(
                settings.jwks_url,
                client=http_client,
                clock=clock,
                refresh_interval=settings.jwks_refresh_interval,
                min_refetch_interval=settings.jwks_min_refetch_interval,
                timeout=settings.upstream_timeout,
                observe=self.metrics.jwks_refresh,
                on_keys_removed=self._keys_removed,
            )
            jwt = JwtValidator(
                self.jwks,
                algorithms=settings.algorithms,
                clock=clock,
                issuer=settings.issuer,
                audiences=settings.audiences,
                typ=settings.jwt_typ,
                clock_skew=settings.clock_skew,
            )
        self.upstream: UpstreamIntrospector | None = None
        self.revocations = Revocations(
            RevocationStore(
                max_lifetime=settings.revocation_max_token_lifetime,
                clock=clock,
                max_entries=settings.revocation_max_entries,
                clock_skew=settings.clock_skew,
                principal_claim=settings.revocation_principal_claim,
                observe=self.metrics.revocation,
            ),
            self.cache,
            observe=self.metrics.revocation_event,
        )
        # Not ready until the topics' recent history is applied (see lifespan).
        self.revocations.replayed = settings.events_bootstrap_servers is None
        self.replication: Replication | None = None
        if settings.events_bootstrap_servers is not None:
            self.replication = _replication()(
                settings,
                self.revocations,
                clock=clock,
                observe_publish=self.metrics.revocation_published,
            )
        self.metrics.watch_revocations(
            lambda: len(self.revocations.store),
            lambda: self.replication.lag if self.replication is not None else 0,
        )
        self.introspector = Introspector(
            cache=self.cache,
            clock=clock,
            jwt=jwt,
            claim_rules=settings.claim_rules,
            default_lifetime=answered_lifetime(settings.cache_ttl),
            response_issuer=settings.response_issuer,
            revocations=self.revocations.store,
        )
        self.answer = IntrospectionAnswer(
            callers=self.callers,
            limits=self.limits,
            introspector=self.introspector,
            metrics=self.metrics,
            decisions=self.decisions,
            token_params=settings.token_params,
            revocations=self.revocations,
        )
        self.probes = Probes(self)
        if http_client is not None:
            self._bind(http_client)

    def _bind(self, client: httpx.AsyncClient) -> None:
        self.http_client = client
        if self.jwks is not None:
            self.jwks.bind(client)
        if self.settings.upstream_url is not None:
            self.upstream = UpstreamIntrospector(
                self.settings.upstream_url,
                client=client,
                authorization=self.settings.upstream_authorization,
                timeout=self.settings.upstream_timeout,
                max_concurrency=self.settings.upstream_max_concurrency,
                observe=self.metrics.upstream_call,
            )
            self.introspector.set_upstream(self.upstream)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if self.settings.metrics_listen is not None:
                # Imported here: only a sidecar that asks for the listener loads it.
                from oauthbearer.sidecar.metrics_listener import metrics_listener

                host, port = self.settings.metrics_listen
                await stack.enter_async_context(metrics_listener(host, port, self.metrics.render))
            await stack.enter_async_context(self._running())
            yield

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        """The upstream client and the background tasks, stopped in reverse."""
        owned: httpx.AsyncClient | None = None
        if self.http_client is None:
            owned = upstream_client(self.settings)
            self._bind(owned)
        refresher: asyncio.Task[None] | None = None
        flusher = asyncio.create_task(self.decisions.run_periodic_flush())
        reloader = asyncio.create_task(self.tls.run()) if self.tls is not None else None
        if self.jwks is not None:
            refresher = asyncio.create_task(self.jwks.run_periodic_refresh())
        if self.replication is not None:
            self.replication.start(asyncio.get_running_loop())
        for warning in start_up_warnings(self.settings):
            logger.warning(warning)
        try:
            yield
        finally:
            if self.replication is not None:
                await self.replication.stop()
            for task in (refresher, flusher, reloader):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if owned is not None:
                await owned.aclose()
                self.http_client = None

    def _keys_removed(self, kids: list[str | None]) -> None:
        # A withdrawn key may be a compromised one: nothing verified with it is served
        # from the cache any more (the tokens are judged again, against the new keys).
        evicted = self.cache.evict_source("jwks")
        logger.warning(
            "JWKS no longer holds key(s) %s: dropped %d cached JWT verdicts",
            ", ".join(repr(kid) for kid in kids),
            evicted,
        )


def _replication() -> type[Replication]:
    # Imported here: confluent-kafka is loaded only by sidecars that use Kafka.
    try:
        from oauthbearer.sidecar.revocation.replication import Replication
    except ImportError as exc:
        # OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS is what asked for the Kafka client.
        raise MissingExtra("confluent", exc.name) from None
    return Replication


#: The shortest lifetime vouched for in an upstream answer that carries no ``exp``.
MIN_ANSWERED_LIFETIME = 60


def answered_lifetime(cache_ttl: float) -> int:
    """The ``exp`` given to an upstream "active" answer without one, as seconds from now.

    The cache TTL (the revocation delay accepted anyway), but whole seconds and at least
    :data:`MIN_ANSWERED_LIFETIME`: a TTL under one second (0 means "do not cache") made
    that ``exp`` equal to now, and every such token was then judged expired.

    Example:
        >>> answered_lifetime(0), answered_lifetime(300), answered_lifetime(90.5)
        (60, 300, 91)
    """
    return max(MIN_ANSWERED_LIFETIME, math.ceil(cache_ttl))
