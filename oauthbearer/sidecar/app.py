"""The Starlette application: RFC 7662 introspection for Kafka brokers' validator plugins.

The components live in :class:`~oauthbearer.sidecar.instance.Sidecar`; an introspection
answer is :class:`~oauthbearer.sidecar.answer.IntrospectionAnswer`, the operational routes
:class:`~oauthbearer.sidecar.probes.Probes`. This module puts the routes together.

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

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oauthbearer.sidecar.callers import CallerAuthenticator, SharedSecretAuthenticator
from oauthbearer.sidecar.direct import STATE_KEY, DirectAnswers
from oauthbearer.sidecar.fastpath import SERVER_ERROR, IntrospectionFastPath
from oauthbearer.sidecar.instance import Sidecar
from oauthbearer.sidecar.openapi import INTROSPECT_MS_PATH, INTROSPECT_PATH, openapi_document
from oauthbearer.sidecar.revocation.routes import EventRoutes
from oauthbearer.sidecar.settings import SidecarSettings

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
# RFC 7662 §2.2 responses carry credentials' metadata: no intermediary may keep them.
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _server_error(_request: Request, exc: Exception) -> Response:
    # Never a stack trace on the wire (nor in the log line: locals may hold a token).
    logger.error("unexpected error: %s", type(exc).__name__)
    return Response(SERVER_ERROR, 500, headers=_NO_STORE, media_type=_JSON)


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
        Route("/healthz", sidecar.probes.healthz, methods=["GET"]),
        Route("/readyz", sidecar.probes.readyz, methods=["GET"]),
        Route("/metrics", sidecar.probes.metrics, methods=["GET"]),
        Route("/openapi.json", sidecar.probes.openapi, methods=["GET"]),
    ]
    if settings.webhooks:
        event_routes = _event_routes(sidecar).routes()
        routes += event_routes
        sidecar.probes.event_paths = tuple(route.path for route in event_routes)
    answer = sidecar.answer
    paths = {INTROSPECT_PATH: False, INTROSPECT_MS_PATH: True}
    direct = DirectAnswers(
        answer_now=answer.answer_now,
        paths={path.encode("ascii"): ms for path, ms in paths.items()},
        max_body_bytes=settings.max_body_bytes,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # The state reaches every connection uvicorn accepts: oauthbearer serve's HTTP
        # protocol answers what needs no I/O itself (see direct.py).
        async with sidecar.lifespan(app):
            yield {STATE_KEY: direct}

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={Exception: _server_error},
        # The introspection paths are answered by this pure ASGI middleware, ahead of the
        # router and the request/response machinery (see fastpath.py).
        middleware=[
            Middleware(
                IntrospectionFastPath,
                answer=answer,
                paths=paths,
                max_body_bytes=settings.max_body_bytes,
            )
        ],
    )
    app.state.sidecar = sidecar
    return app
