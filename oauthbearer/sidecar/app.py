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
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oauthbearer import __version__
from oauthbearer._secret import fingerprint
from oauthbearer.errors import ConfigurationError, UpstreamUnavailable
from oauthbearer.sidecar.cache import ResultCache, token_key
from oauthbearer.sidecar.callers import CallerAuthenticator
from oauthbearer.sidecar.fastpath import Answer, BodyTooLarge, IntrospectionFastPath
from oauthbearer.sidecar.introspector import Introspector
from oauthbearer.sidecar.limits import CallerLimited, CallerLimits
from oauthbearer.sidecar.logs import decision_logger
from oauthbearer.sidecar.metrics import CONTENT_TYPE, Metrics
from oauthbearer.sidecar.request import MalformedRequest, parse_token
from oauthbearer.sidecar.response import render_milliseconds
from oauthbearer.sidecar.revocation.events import Event
from oauthbearer.sidecar.revocation.routes import EventRoutes
from oauthbearer.sidecar.revocation.service import Revocations
from oauthbearer.sidecar.revocation.store import RevocationStore
from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.verify.jwks import JwksStore
from oauthbearer.verify.jwt_validator import JwtValidator
from oauthbearer.verify.transport import async_transport, proxies_in_environment
from oauthbearer.verify.upstream import UpstreamIntrospector

__all__ = ["INTROSPECT_MS_PATH", "INTROSPECT_PATH", "Sidecar", "create_app"]

INTROSPECT_PATH = "/oauth2/introspect"
INTROSPECT_MS_PATH = "/oauth2/introspect/jairsjunior-ms"

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
        # Not ready until the event topic's recent history is applied (see lifespan).
        self.revocations.replayed = settings.events_bootstrap_servers is None
        self.events: Any = None  # KafkaEventSource, imported only when a topic is set
        self.metrics.watch_revocations(
            lambda: len(self.revocations.store),
            lambda: self.events.lag if self.events is not None else 0,
        )
        self.introspector = Introspector(
            cache=self.cache,
            clock=clock,
            jwt=jwt,
            subject_claims=settings.subject_claims,
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
            owned = _upstream_client(self.settings)
            self._bind(owned)
        refresher: asyncio.Task[None] | None = None
        if self.jwks is not None:
            refresher = asyncio.create_task(self.jwks.run_periodic_refresh())
        if self.settings.events_bootstrap_servers is not None:
            self._start_events(asyncio.get_running_loop())
        try:
            yield
        finally:
            if self.events is not None:
                await asyncio.to_thread(self.events.stop)
                self.events = None
            if refresher is not None:
                refresher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await refresher
            if owned is not None:
                await owned.aclose()
                self.http_client = None

    def _start_events(self, loop: asyncio.AbstractEventLoop) -> None:
        # Imported here: confluent-kafka is loaded only by sidecars that read a topic.
        from oauthbearer.sidecar.revocation.kafka_source import KafkaEventSource, consumer_config

        revocations = self.revocations

        def deliver(events: list[Event]) -> None:
            # The consumer thread never touches the store or the cache: the loop applies.
            loop.call_soon_threadsafe(revocations.apply_batch, events, "kafka")

        def caught_up() -> None:
            # Queued behind the last replayed batch, so "ready" means it was applied.
            loop.call_soon_threadsafe(setattr, revocations, "replayed", True)

        topic = self.settings.events_topic
        if topic is None:
            raise ConfigurationError(
                "OAUTHBEARER_EVENTS_TOPIC", "is required with OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS"
            )
        self.events = KafkaEventSource(
            consumer_config(self.settings),
            topic,
            replay_seconds=self.settings.revocation_max_token_lifetime + self.settings.clock_skew,
            deliver=deliver,
            on_caught_up=caught_up,
            clock=self.clock,
        )
        self.events.start()

    # -- routes ---------------------------------------------------------------------

    async def answer(
        self, authorization: str | None, read_body: Callable[[], Awaitable[bytes]], *, ms: bool
    ) -> Answer:
        """The introspection answer for one request: status, extra headers, body.

        Transport-free: :mod:`oauthbearer.sidecar.fastpath` feeds it from raw ASGI.
        ``ms`` renders ``exp``/``iat`` in milliseconds (jairsjunior on Kafka ≥ 3.3).
        """
        started = time.perf_counter()
        caller = self.callers.authenticate(authorization)
        if caller is None:
            self.metrics.request("unauthorized", "none")
            self._log(None, None, "unauthorized", "none", started, "caller not authenticated")
            # RFC 7662 §2.3 → RFC 6749 §5.2: invalid client authentication is a 401 with
            # the scheme the client should use.
            return _error(401, "invalid_client", [(b"www-authenticate", _CHALLENGE)])
        try:
            body = await read_body()
        except BodyTooLarge:
            self.metrics.request("too_large", "none")
            self._log(caller, None, "too_large", "none", started, "body over limit")
            return _error(413, "invalid_request")
        try:
            token = parse_token(body, self.settings.token_params)
        except MalformedRequest as exc:
            self.metrics.request("invalid_request", "none")
            self._log(caller, None, "invalid_request", "none", started, str(exc))
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
            self._log(caller, token, "unavailable", "upstream", started, str(exc))
            return _error(503, "temporarily_unavailable", [(b"retry-after", b"1")])
        except CallerLimited as exc:
            # RFC 6585 §4: this caller's own excess, not an outage (see limits.py).
            self.metrics.request("limited", "none")
            self._log(caller, token, "limited", "none", started, str(exc))
            retry_after = str(exc.retry_after).encode()
            return _error(429, "temporarily_unavailable", [(b"retry-after", retry_after)])
        self.metrics.cache_lookup(outcome.source == "cache")
        verdict = outcome.verdict
        result = "active" if verdict.active else "inactive"
        self.metrics.request(result, outcome.source)
        self._log(caller, token, result, outcome.source, started, outcome.reason, verdict.sub)
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

    def _log(
        self,
        caller: str | None,
        token: str | None,
        result: str,
        source: str,
        started: float,
        reason: str | None,
        sub: object = None,
    ) -> None:
        level = logging.WARNING if result == "unavailable" else logging.INFO
        if not decision_logger.isEnabledFor(level):
            return
        decision: dict[str, Any] = {
            "caller": caller,
            "token": fingerprint(token) if token is not None else None,
            "sub": sub,
            "result": result,
            "source": source,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        if reason is not None:
            decision["reason"] = reason
        decision_logger.log(level, "decision", extra={"decision": decision})

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
        return JSONResponse(openapi_document(events=self.settings.event_callers is not None))


def _upstream_client(settings: SidecarSettings) -> httpx.AsyncClient:
    """The HTTP client for the upstream introspection endpoint and the JWKS."""
    # As many kept alive as may be open: httpcore 1.0 closes an idle connection whenever
    # the pool holds more than max_keepalive_connections in total (busy ones included), so
    # a smaller keep-alive bound turns a busy pool into a connect/close cycle per call.
    pool_size = settings.upstream_max_concurrency + 4  # + the JWKS fetches
    limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
    tls = _tls_context(settings.ca_file)
    # Never follow redirects: a 3xx from the IdP is an error to report, and following it
    # could send our Authorization header elsewhere.
    if proxies_in_environment():
        # Only httpx's default transport honours HTTP(S)_PROXY and NO_PROXY.
        return httpx.AsyncClient(
            timeout=settings.upstream_timeout, limits=limits, verify=tls, follow_redirects=False
        )
    # httpcore on plain asyncio streams: see oauthbearer/verify/transport.py.
    return httpx.AsyncClient(
        timeout=settings.upstream_timeout,
        transport=async_transport(limits=limits, verify=tls),
        follow_redirects=False,
    )


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)


async def _server_error(_request: Request, exc: Exception) -> Response:
    # Never a stack trace on the wire (nor in the log line: locals may hold a token).
    logger.error("unexpected error: %s", type(exc).__name__)
    status, _, body = _error(500, "server_error")
    return Response(body, status, headers=_NO_STORE, media_type=_JSON)


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
    if settings.event_callers is not None:
        # Its own caller table: an identity provider's webhook is not a broker.
        event_callers = CallerAuthenticator(
            settings.event_callers, variable="OAUTHBEARER_EVENT_CALLERS"
        )
        routes += EventRoutes(
            sidecar.revocations, event_callers, max_body_bytes=settings.max_body_bytes
        ).routes()
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


def openapi_document(*, events: bool = False) -> dict[str, Any]:
    """The OpenAPI 3 description of the sidecar's HTTP API.

    ``events`` adds the revocation routes, which exist only when
    ``OAUTHBEARER_EVENT_CALLERS`` is set.

    Example:
        >>> sorted(set(openapi_document(events=True)["paths"]) - set(openapi_document()["paths"]))
        ['/events/fusionauth', '/events/keycloak', '/revocations']
    """
    active_example = {
        "active": True,
        "sub": "orders-service",
        "client_id": "orders-service",
        "scope": "kafka",
        "exp": 1767225600,
        "iat": 1767222000,
        "iss": "https://idp.example",
        "aud": "urn:kafka",
    }
    introspection_response = {
        "type": "object",
        "required": ["active"],
        "properties": {
            "active": {"type": "boolean"},
            "sub": {"type": "string", "minLength": 1},
            "exp": {"type": "integer"},
            "iat": {"type": "integer"},
            "nbf": {"type": "integer"},
            "scope": {"type": "string", "description": "space-separated"},
            "client_id": {"type": "string"},
            "username": {"type": "string"},
            "token_type": {"type": "string"},
            "iss": {"type": "string"},
            "aud": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "jti": {"type": "string"},
        },
        "additionalProperties": True,
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    }

    def operation(summary: str, ms: bool) -> dict[str, Any]:
        return {
            "summary": summary,
            "security": [{"basic": []}, {"bearer": []}, {}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "required": ["token"],
                            "properties": {
                                "token": {"type": "string"},
                                "token_type_hint": {
                                    "type": "string",
                                    "description": "accepted and ignored",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": (
                        "Active token (exp/iat in milliseconds)"
                        if ms
                        else 'Active token, or exactly {"active": false}'
                    ),
                    "content": {
                        _JSON: {
                            "schema": {"$ref": "#/components/schemas/IntrospectionResponse"},
                            "examples": {
                                "active": {"value": active_example},
                                "inactive": {"value": {"active": False}},
                            },
                        }
                    },
                },
                "400": {
                    "description": "Malformed request (invalid_request)",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "401": {
                    "description": "Caller not authenticated",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "413": {"description": "Request body too large"},
                "429": {"description": "This caller has too many requests in progress; retry"},
                "503": {"description": "Upstream introspection or JWKS unavailable; retry"},
            },
        }

    revocation = {
        "type": "object",
        "description": 'Exactly one of sub, jti, token; "exp" bounds a jti/token denial',
        "properties": {
            "sub": {"type": "string", "minLength": 1},
            "jti": {"type": "string", "minLength": 1},
            "token": {"type": "string", "minLength": 1},
            "exp": {"type": "number"},
        },
        "minProperties": 1,
        "maxProperties": 2,
        "additionalProperties": False,
    }
    outcomes = {
        "type": "object",
        "required": ["outcomes"],
        "properties": {
            "outcomes": {
                "type": "array",
                "items": {"enum": ["applied", "duplicate", "ignored"]},
            }
        },
    }

    def event_operation(summary: str) -> dict[str, Any]:
        is_api = summary.startswith("Revoke")
        body_schema: dict[str, Any] = (
            {"$ref": "#/components/schemas/Revocation"}
            if is_api
            else {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}
        )
        return {
            "summary": summary,
            "security": [{"eventBasic": []}],
            "requestBody": {"required": True, "content": {_JSON: {"schema": body_schema}}},
            "responses": {
                "200": {
                    "description": "Applied in memory (idempotent on the event id)",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/EventOutcomes"}}},
                },
                "400": {
                    "description": "Not JSON, or not an event of this family; nothing changed",
                    "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
                "401": {"description": "Caller not authenticated (WWW-Authenticate: Basic)"},
                "413": {"description": "Request body too large"},
            },
        }

    event_paths = {
        "/events/keycloak": {
            "post": event_operation(
                "Keycloak event-emitter events (user and admin), one or an array"
            )
        },
        "/events/fusionauth": {
            "post": event_operation("FusionAuth webhook events, one or an array")
        },
        "/revocations": {"post": event_operation("Revoke a principal, a jti or a token")},
    }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oauthbearer introspection sidecar",
            "version": __version__,
            "description": "RFC 7662 token introspection for Kafka brokers' OAUTHBEARER "
            "validator plugins (Strimzi kafka-oauth, jairsjunior kafka-oauth).",
        },
        "paths": {
            INTROSPECT_PATH: {"post": operation("RFC 7662 token introspection", False)},
            INTROSPECT_MS_PATH: {
                "post": operation(
                    "Introspection with exp/iat in milliseconds (jairsjunior on Kafka ≥ 3.3)",
                    True,
                )
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "alive"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {
                        "200": {"description": "ready"},
                        "503": {"description": "not ready"},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {
                        "200": {
                            "description": "text exposition format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "OpenAPI 3 document"}},
                }
            },
            **(event_paths if events else {}),
        },
        "components": {
            "schemas": {
                "IntrospectionResponse": introspection_response,
                "Error": error,
                "Revocation": revocation,
                "EventOutcomes": outcomes,
            },
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "eventBasic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "OAUTHBEARER_EVENT_CALLERS (not the brokers' credentials)",
                },
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }
