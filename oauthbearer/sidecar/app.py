"""The Starlette application: RFC 7662 introspection for Kafka brokers' validator plugins.

Routes:

* ``POST /oauth2/introspect`` — RFC 7662 introspection.
* ``POST /oauth2/introspect/jairsjunior-ms`` — the same, with ``exp``/``iat`` in
  milliseconds for jairsjunior's handler on Kafka ≥ 3.3 (KAFKA-13848, CONTRACT.md §1).
  Opt-in by pointing that broker at this path; it is not RFC 7662.
* ``GET /healthz`` (alive), ``GET /readyz`` (JWKS loaded, upstream not failing, event
  topic replayed), ``GET /metrics`` (Prometheus text), ``GET /openapi.json`` (OpenAPI 3).
* ``POST /events/keycloak``, ``POST /events/fusionauth``, ``POST /revocations`` — only
  when ``OAUTHBEARER_EVENT_CALLERS`` is set (see :mod:`oauthbearer.sidecar.revocation`).

Status codes of the introspection routes: 200 (active, or exactly ``{"active": false}``),
400 ``invalid_request``, 401 with ``WWW-Authenticate``, 413, 429 for a caller over its
limit, 503 when no verdict can be reached. Never 201/204 (jairsjunior accepts only 200),
never a stack trace.

One ``httpx.AsyncClient`` (connection pooling) is opened in the lifespan and shared by the
upstream client and the JWKS store, unless a client is injected (tests, embedding).

Example:
    >>> settings = SidecarSettings(jwks_url="https://idp.example/jwks", allow_anonymous=True)
    >>> app = create_app(settings)
    >>> sorted(r.path for r in app.routes)
    ['/healthz', '/metrics', '/openapi.json', '/readyz']
    >>> sorted(app.user_middleware[0].kwargs["paths"])  # answered ahead of the router
    ['/oauth2/introspect', '/oauth2/introspect/jairsjunior-ms']
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oauthbearer.errors import MissingExtra, UpstreamUnavailable
from oauthbearer.sidecar.cache import ResultCache, token_key
from oauthbearer.sidecar.callers import CallerAuthenticator, SharedSecretAuthenticator
from oauthbearer.sidecar.decision_log import DecisionLog
from oauthbearer.sidecar.fastpath import Answer, BodyTooLarge, IntrospectionFastPath
from oauthbearer.sidecar.introspector import Introspector
from oauthbearer.sidecar.limits import CallerLimited, CallerLimits
from oauthbearer.sidecar.metrics import CONTENT_TYPE, Metrics
from oauthbearer.sidecar.openapi import INTROSPECT_MS_PATH, INTROSPECT_PATH, openapi_document
from oauthbearer.sidecar.request import MalformedRequest, parse_token
from oauthbearer.sidecar.response import render_milliseconds
from oauthbearer.sidecar.revocation.routes import EventRoutes
from oauthbearer.sidecar.revocation.service import Revocations
from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.sidecar.tls import CertificateReloader, server_context
from oauthbearer.sidecar.upstream_client import upstream_client
from oauthbearer.sidecar.warnings import LOCAL_ONLY_WARNING
from oauthbearer.verify.jwks import JwksStore
from oauthbearer.verify.jwt_validator import JwtValidator
from oauthbearer.verify.upstream import UpstreamIntrospector

if TYPE_CHECKING:
    from oauthbearer.sidecar.revocation.replication import Replication

__all__ = [
    "INTROSPECT_MS_PATH",
    "INTROSPECT_PATH",
    "Sidecar",
    "create_app",
    "openapi_document",
]


Clock = Callable[[], float]
logger = logging.getLogger("oauthbearer.sidecar")

_JSON = "application/json"
# Introspected by /readyz only while the upstream is failing; any answer proves it is up.
_PROBE_TOKEN = "oauthbearer-readiness-probe"  # noqa: S105 - a known-inactive dummy
# RFC 7662 §2.2 responses carry credentials' metadata: no intermediary may keep them.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


_CHALLENGE = b'Basic realm="oauthbearer-introspection", charset="UTF-8"'


def _error(status: int, error: str, headers: list[tuple[bytes, bytes]] | None = None) -> Answer:
    return status, headers or [], json.dumps({"error": error}).encode()


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
        self.metrics.watch_cache(lambda: len(self.cache), lambda: self.cache.hit_ratio)
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
            default_lifetime=settings.cache_ttl,
            response_issuer=settings.response_issuer,
            clock_skew=settings.clock_skew,
            revocations=self.revocations.store,
        )
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
        if self.settings.webhooks and self.settings.revocations_topic is None:
            logger.warning(LOCAL_ONLY_WARNING)
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

    # -- routes ---------------------------------------------------------------------

    async def answer(
        self,
        authorization: str | None,
        read_body: Callable[[], Awaitable[bytes]],
        *,
        ms: bool,
        client_cert: str | None = None,
    ) -> Answer:
        """The introspection answer for one request: status, extra headers, body.

        Transport-free: :mod:`oauthbearer.sidecar.fastpath` feeds it from raw ASGI.
        ``ms`` renders ``exp``/``iat`` in milliseconds (jairsjunior on Kafka ≥ 3.3).
        """
        started = time.perf_counter()
        if client_cert is not None and (authorization is None or not authorization.strip()):
            # mTLS: the handshake verified this certificate against the client CA.
            caller: str | None = f"cert:{client_cert}"
        else:
            caller = self.callers.authenticate(authorization)
        if caller is None:
            self.metrics.request("unauthorized", "none")
            self.decisions.decision(
                None, None, "unauthorized", "none", started, "caller not authenticated"
            )
            # RFC 7662 §2.3 → RFC 6749 §5.2: invalid client authentication is a 401 with
            # the scheme the client should use.
            return _error(401, "invalid_client", [(b"www-authenticate", _CHALLENGE)])
        try:
            body = await read_body()
        except BodyTooLarge:
            self.metrics.request("too_large", "none")
            self.decisions.decision(caller, None, "too_large", "none", started, "body over limit")
            return _error(413, "invalid_request")
        try:
            token = parse_token(body, self.settings.token_params)
        except MalformedRequest as exc:
            self.metrics.request("invalid_request", "none")
            self.decisions.decision(caller, None, "invalid_request", "none", started, str(exc))
            return _error(400, "invalid_request")
        key = token_key(token)
        try:
            # A hit is answered before the caller's limit: it costs no upstream capacity.
            outcome = self.introspector.lookup(key)
            if outcome is None:
                outcome = await self.limits.call(
                    caller, token, self.introspector.decide, token, key
                )
        except UpstreamUnavailable as exc:
            self.metrics.request("unavailable", "upstream")
            self.decisions.decision(
                caller, token, "unavailable", "upstream", started, str(exc), key=key
            )
            return _error(503, "temporarily_unavailable", [(b"retry-after", b"1")])
        except CallerLimited as exc:
            # RFC 6585 §4: this caller's own excess, not an outage (see limits.py).
            self.metrics.request("limited", "none")
            self.decisions.decision(caller, token, "limited", "none", started, str(exc), key=key)
            retry_after = str(exc.retry_after).encode()
            return _error(429, "temporarily_unavailable", [(b"retry-after", retry_after)])
        self.metrics.cache_lookup(outcome.source == "cache")
        verdict = outcome.verdict
        result = "active" if verdict.active else "inactive"
        self.metrics.request(result, outcome.source)
        if outcome.source == "cache" and outcome.reason is None:
            self.decisions.hit(caller, token, result, verdict.sub, started, key=key)
        else:
            self.decisions.decision(
                caller,
                token,
                result,
                outcome.source,
                started,
                outcome.reason,
                verdict.sub,
                key=key,
            )
        return 200, [], render_milliseconds(verdict.body) if ms else verdict.body

    def _keys_removed(self, kids: list[str | None]) -> None:
        # A withdrawn key may be a compromised one: nothing verified with it is served
        # from the cache any more (the tokens are judged again, against the new keys).
        evicted = self.cache.evict_source("jwks")
        logger.warning(
            "JWKS no longer holds key(s) %s: dropped %d cached JWT verdicts",
            ", ".join(repr(kid) for kid in kids),
            evicted,
        )

    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def readiness(self) -> dict[str, bool]:
        """Named checks behind ``/readyz``: JWKS loaded, upstream's last call succeeded."""
        checks: dict[str, bool] = {}
        if self.jwks is not None:
            checks["jwks"] = self.jwks.loaded
        if self.settings.upstream_url is not None:
            checks["upstream"] = self.upstream is not None and self.upstream.last_ok is not False
        if self.settings.events_bootstrap_servers is not None:
            checks["revocation_events"] = self.revocations.replayed
        return checks

    async def readyz(self, _request: Request) -> Response:
        if self.upstream is not None and self.upstream.last_ok is False:
            # Re-probe instead of reporting the last failure forever: an unready pod gets
            # no traffic, so without this it could never observe the upstream recover.
            with contextlib.suppress(UpstreamUnavailable):
                await self.upstream.introspect(_PROBE_TOKEN)
        checks = self.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics_endpoint(self, _request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(self, _request: Request) -> Response:
        return JSONResponse(openapi_document(events=self.settings.webhooks))


def _replication() -> type[Replication]:
    # Imported here: confluent-kafka is loaded only by sidecars that use Kafka.
    try:
        from oauthbearer.sidecar.revocation.replication import Replication
    except ImportError as exc:
        # OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS is what asked for the Kafka client.
        raise MissingExtra("confluent", exc.name) from None
    return Replication


async def _server_error(_request: Request, exc: Exception) -> Response:
    # Never a stack trace on the wire (nor in the log line: locals may hold a token).
    logger.error("unexpected error: %s", type(exc).__name__)
    status, _, body = _error(500, "server_error")
    return Response(body, status, headers=_NO_STORE, media_type=_JSON)


def _event_routes(sidecar: Sidecar) -> EventRoutes:
    settings = sidecar.settings
    # Their own credentials: an identity provider's webhook is not a broker.
    callers = (
        CallerAuthenticator(settings.event_callers, variable="OAUTHBEARER_EVENT_CALLERS")
        if settings.event_callers is not None
        else None
    )
    emitter = (
        SharedSecretAuthenticator(settings.keycloak_emitter_secret)
        if settings.keycloak_emitter_secret is not None
        else None
    )
    publisher = sidecar.replication.publisher if sidecar.replication is not None else None
    return EventRoutes(
        sidecar.revocations,
        callers,
        emitter=emitter,
        publisher=publisher,
        max_body_bytes=settings.max_body_bytes,
    )


def create_app(
    settings: SidecarSettings,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Clock = time.time,
) -> Starlette:
    """Build the sidecar's ASGI application.

    ``http_client`` is the test seam (e.g. ``httpx.AsyncClient(transport=…)``, or respx);
    when ``None`` one is created in the lifespan and closed at shutdown. ``clock`` returns
    epoch seconds and drives every expiry decision, so tests advance a fake one.
    The :class:`Sidecar` is reachable as ``app.state.sidecar``.
    """
    sidecar = Sidecar(settings, http_client=http_client, clock=clock)
    routes = [
        Route("/healthz", sidecar.healthz, methods=["GET"]),
        Route("/readyz", sidecar.readyz, methods=["GET"]),
        Route("/metrics", sidecar.metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", sidecar.openapi, methods=["GET"]),
    ]
    if settings.webhooks:
        routes += _event_routes(sidecar).routes()
    app = Starlette(
        routes=routes,
        lifespan=sidecar.lifespan,
        exception_handlers={Exception: _server_error},
        # The introspection paths are answered by this pure ASGI middleware, ahead of the
        # router and the request/response machinery (see fastpath.py).
        middleware=[
            Middleware(
                IntrospectionFastPath,
                answer=sidecar.answer,
                paths={INTROSPECT_PATH: False, INTROSPECT_MS_PATH: True},
                max_body_bytes=settings.max_body_bytes,
            )
        ],
    )
    app.state.sidecar = sidecar
    return app
