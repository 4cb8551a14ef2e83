"""HTTP routes that receive revocations: identity-provider webhooks and a plain API.

* ``POST /events/keycloak`` — Keycloak's event-emitter module (user and admin events).
* ``POST /events/fusionauth`` — FusionAuth webhooks (the same shapes as its Kafka topic).
* ``POST /revocations`` — anything else: exactly one of ``{"sub": ...}`` (every token of
  that principal issued until now), ``{"jti": ...}`` or ``{"token": ...}`` (that one
  token), optionally with ``"exp"`` (epoch seconds) bounding how long it is denied.

A webhook body is one event or a JSON array of events. Callers authenticate with HTTP
Basic credentials from ``OAUTHBEARER_EVENT_CALLERS`` (separate from the brokers'): 401
with ``WWW-Authenticate`` otherwise. A body that is not JSON, or not an event of that
family, is a 400 and changes nothing (every event is parsed before any is applied). The
answer is 200 with per-event outcomes — ``applied``, ``duplicate``, ``ignored`` — as soon
as they are applied in memory: the emitter retries from a buffer, so answering fast and
being idempotent on the event id is what keeps its queue short.

Example:
    >>> from oauthbearer._secret import Secret
    >>> from oauthbearer.sidecar.cache import ResultCache
    >>> from oauthbearer.sidecar.revocation.store import RevocationStore
    >>> clock = lambda: 1000.0
    >>> cache = ResultCache(ttl=60, max_entries=10, negative_ttl=0,
    ...                     negative_max_entries=1, clock=clock)
    >>> revocations = Revocations(RevocationStore(max_lifetime=3600, clock=clock), cache)
    >>> routes = EventRoutes(revocations, CallerAuthenticator(Secret("keycloak:fake-secret")))
    >>> [r.path for r in routes.routes()]
    ['/events/keycloak', '/events/fusionauth', '/revocations']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oauthbearer.sidecar.callers import CallerAuthenticator
from oauthbearer.sidecar.fastpath import BodyTooLarge, read_body
from oauthbearer.sidecar.revocation.events import (
    Event,
    MalformedEvent,
    fusionauth_event,
    keycloak_event,
)
from oauthbearer.sidecar.revocation.service import Revocations

__all__ = ["EventRoutes"]

_JSON = "application/json"
_CHALLENGE = 'Basic realm="oauthbearer-events", charset="UTF-8"'
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # as every answer of ours


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status,
        headers={**_NO_STORE, **(headers or {})},
        media_type=_JSON,
    )


class _Invalid(Exception):
    """The request is malformed (→ 400); the message is safe to log, never echoed."""


class EventRoutes:
    """The three routes, bound to one :class:`Revocations` and one caller table."""

    def __init__(
        self,
        revocations: Revocations,
        callers: CallerAuthenticator,
        *,
        max_body_bytes: int = 65_536,
    ) -> None:
        self._revocations = revocations
        self._callers = callers
        self._max_body = max_body_bytes

    def routes(self) -> list[Route]:
        return [
            Route("/events/keycloak", self.keycloak, methods=["POST"]),
            Route("/events/fusionauth", self.fusionauth, methods=["POST"]),
            Route("/revocations", self.revocations, methods=["POST"]),
        ]

    async def keycloak(self, request: Request) -> Response:
        return await self._events(request, keycloak_event, "keycloak")

    async def fusionauth(self, request: Request) -> Response:
        return await self._events(request, fusionauth_event, "fusionauth")

    async def _events(
        self, request: Request, parse: Callable[[object], Event], channel: str
    ) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        try:
            items = await self._json(request)
            batch = items if isinstance(items, list) else [items]
            events = [parse(item) for item in batch]
        except BodyTooLarge:
            return _answer(413, {"error": "invalid_request"})
        except (_Invalid, MalformedEvent):
            self._revocations.apply(Event.malformed(channel), channel)
            return _answer(400, {"error": "invalid_request"})
        outcomes = [self._revocations.apply(event, channel) for event in events]
        return _answer(200, {"outcomes": outcomes})

    async def revocations(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        try:
            kind, value, exp = _revocation(await self._json(request))
        except BodyTooLarge:
            return _answer(413, {"error": "invalid_request"})
        except _Invalid:
            self._revocations.apply(Event.malformed("api"), "api")
            return _answer(400, {"error": "invalid_request"})
        if kind == "sub":
            changed = self._revocations.revoke_principal(value)
        elif kind == "jti":
            changed = self._revocations.revoke_jti(value, exp)
        else:
            changed = self._revocations.revoke_token(value, exp)
        outcome = "applied" if changed else "ignored"
        self._revocations.observe_direct(kind, outcome)
        return _answer(200, {"outcomes": [outcome]})

    def _refuse(self, request: Request) -> Response | None:
        if self._callers.authenticate(request.headers.get("authorization")) is not None:
            return None
        # RFC 7235 §3.1: a 401 carries the challenge the client should answer.
        return _answer(401, {"error": "invalid_client"}, {"WWW-Authenticate": _CHALLENGE})

    async def _json(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        declared = int(length) if length is not None and length.isdigit() else None
        body = await read_body(request.receive, self._max_body, declared)
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise _Invalid("not JSON") from None


def _revocation(data: Any) -> tuple[str, str, float | None]:
    if not isinstance(data, dict):
        raise _Invalid("not a JSON object")
    kinds = [k for k in ("sub", "jti", "token") if k in data]
    if len(kinds) != 1 or set(data) - {kinds[0], "exp"}:
        raise _Invalid('exactly one of "sub", "jti" or "token" (and optionally "exp")')
    value = data[kinds[0]]
    if not isinstance(value, str) or not value:
        raise _Invalid("the value must be a non-empty string")
    exp = data.get("exp")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
        raise _Invalid("exp must be a number")
    if kinds[0] == "sub" and exp is not None:
        raise _Invalid("exp applies to jti and token only")
    return kinds[0], value, float(exp) if exp is not None else None
