"""HTTP routes that receive revocations: identity-provider webhooks and a plain API.

* ``POST /events/keycloak`` — Keycloak's event-emitter module (user and admin events), in
  its ``format=JSON`` and ``format=FLATBUFFER`` (``{"type": "Event", "obj": "<base64>"}``)
  bodies.
* ``POST /events/fusionauth`` — FusionAuth webhooks (the same shapes as its Kafka topic).
* ``POST /revocations`` — anything else: exactly one of ``{"sub": ...}`` (every token of
  that principal issued until now), ``{"jti": ...}`` or ``{"token": ...}`` (that one
  token), optionally with ``"exp"`` (epoch seconds) bounding how long it is denied, or
  exactly ``{"all": true}`` (every token issued until now, whoever holds it).

A webhook body is one event or a JSON array of events. Callers authenticate with HTTP
Basic credentials from ``OAUTHBEARER_EVENT_CALLERS`` (separate from the brokers'); on
``/events/keycloak`` also with any user name and ``OAUTHBEARER_KEYCLOAK_EMITTER_SECRET``
as the password (the emitter sends its host name). Otherwise 401 with
``WWW-Authenticate``. A body that is not JSON, or not an event of that family, is a 400
and changes nothing (every event is parsed before any is applied).

What is accepted is applied here at once, and — with ``OAUTHBEARER_REVOCATIONS_TOPIC`` —
written to that topic for every other replica. The answer is **200** (exactly: the
emitter counts anything else as a failure) with per-event outcomes — ``applied``,
``duplicate``, ``ignored`` — only once Kafka acknowledged the records; when it cannot,
**503**, so the sender keeps the event and retries (the retry dedupes on the event id).

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
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oauthbearer._json import NOT_JSON
from oauthbearer.sidecar.callers import CallerAuthenticator, SharedSecretAuthenticator
from oauthbearer.sidecar.fastpath import BodyTooLarge, read_body
from oauthbearer.sidecar.request import ASCII_SPACE, looks_like_token
from oauthbearer.sidecar.revocation.event_model import text
from oauthbearer.sidecar.revocation.events import (
    Event,
    MalformedEvent,
    finite_seconds,
    fusionauth_event,
    keycloak_event,
)
from oauthbearer.sidecar.revocation.keycloak_flatbuffers import (
    http_flatbuffer_event,
    is_flatbuffer_body,
)
from oauthbearer.sidecar.revocation.publisher import PublishFailed
from oauthbearer.sidecar.revocation.records import RevocationRecord
from oauthbearer.sidecar.revocation.service import Revocations

__all__ = ["EventRoutes", "Publisher"]

logger = logging.getLogger("oauthbearer.sidecar.revocation")

#: At most one line per channel this often about refused webhook callers.
_REFUSAL_LINE_INTERVAL_S = 60.0

#: The largest event body taken (413 beyond). An identity provider's event can carry a
#: whole user representation (FusionAuth's user.deactivate, a Keycloak admin update with
#: its attributes): far more than an introspection request, whose limit is
#: OAUTHBEARER_MAX_BODY_BYTES. An event refused for its size would never be applied, and
#: its sender would re-send it forever.
EVENT_MAX_BODY_BYTES = 1024 * 1024

_JSON = "application/json"
_CHALLENGE = 'Basic realm="oauthbearer-events", charset="UTF-8"'
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # as every answer of ours


class Publisher(Protocol):
    """Where accepted revocations go for the other replicas (the revocations topic)."""

    async def publish(self, records: Sequence[RevocationRecord]) -> None: ...


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status,
        headers={**_NO_STORE, **(headers or {})},
        media_type=_JSON,
    )


class _Invalid(Exception):
    """The request is malformed (→ 400); the message is safe to log, never echoed."""


def keycloak_item(data: object) -> Event:
    """One item of a ``/events/keycloak`` body: a JSON event or a FLATBUFFER wrapper."""
    if is_flatbuffer_body(data):
        return http_flatbuffer_event(data)
    return keycloak_event(data)


class EventRoutes:
    """The three routes, bound to one :class:`Revocations` and their credentials.

    ``callers`` (``OAUTHBEARER_EVENT_CALLERS``) may use every route; ``emitter``
    (``OAUTHBEARER_KEYCLOAK_EMITTER_SECRET``) only ``/events/keycloak``. ``publisher``
    is the revocations topic, or ``None`` (revocations then stay in this process).
    """

    def __init__(
        self,
        revocations: Revocations,
        callers: CallerAuthenticator | None,
        *,
        emitter: SharedSecretAuthenticator | None = None,
        publisher: Publisher | None = None,
        max_body_bytes: int = EVENT_MAX_BODY_BYTES,
    ) -> None:
        self._revocations = revocations
        self._callers = callers
        self._emitter = emitter
        self._publisher = publisher
        self._max_body = max_body_bytes
        self._next_refusal_line: dict[str, float] = {}  # channel -> monotonic seconds

    def routes(self) -> list[Route]:
        """The routes someone can use: with only the emitter's secret configured,
        ``/events/fusionauth`` and ``/revocations`` (event callers only) would refuse
        everyone, so they do not exist (404, and absent from ``/openapi.json``)."""
        routes = [Route("/events/keycloak", self.keycloak, methods=["POST"])]
        if self._callers is not None:
            routes.append(Route("/events/fusionauth", self.fusionauth, methods=["POST"]))
            routes.append(Route("/revocations", self.revocations, methods=["POST"]))
        return routes

    async def keycloak(self, request: Request) -> Response:
        return await self._events(request, keycloak_item, "keycloak", emitter=True)

    async def fusionauth(self, request: Request) -> Response:
        return await self._events(request, fusionauth_event, "fusionauth")

    async def _events(
        self,
        request: Request,
        parse: Callable[[object], Event],
        channel: str,
        *,
        emitter: bool = False,
    ) -> Response:
        refused = self._refuse(request, channel, emitter=emitter)
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
        outcomes: list[str] = []
        records: list[RevocationRecord] = []
        for event in events:
            outcome, record = self._revocations.receive(event, channel)
            outcomes.append(outcome)
            if record is not None:
                records.append(record)
        return await self._shared(records, {"outcomes": outcomes})

    async def revocations(self, request: Request) -> Response:
        refused = self._refuse(request, "api")
        if refused is not None:
            return refused
        try:
            kind, value, exp = _revocation(await self._json(request))
        except BodyTooLarge:
            return _answer(413, {"error": "invalid_request"})
        except _Invalid:
            self._revocations.apply(Event.malformed("api"), "api")
            return _answer(400, {"error": "invalid_request"})
        records = self._revocations.direct_records(kind, value, exp)
        # The outcome is the one asked for; what is denied with it (a JWT's jti, an ECDSA
        # token's other spelling) goes along.
        outcomes = [self._revocations.apply_record(record, "api") for record in records]
        return await self._shared(records, {"outcomes": outcomes[:1]})

    async def _shared(self, records: list[RevocationRecord], body: dict[str, Any]) -> Response:
        """200 once the other replicas can see ``records``; 503 when Kafka cannot take them.

        They are applied here already either way: refusing a token a moment early on this
        replica is safe, and the sender's retry is then a local duplicate that is still
        written to the topic.
        """
        if self._publisher is not None:
            try:
                await self._publisher.publish(records)
            except PublishFailed:
                return _answer(503, {"error": "temporarily_unavailable"}, {"Retry-After": "5"})
        return _answer(200, body)

    def _refuse(self, request: Request, channel: str, *, emitter: bool = False) -> Response | None:
        header = request.headers.get("authorization")
        if self._callers is not None and self._callers.authenticate(header) is not None:
            return None
        if emitter and self._emitter is not None and self._emitter.authenticate(header):
            return None
        # Counted and logged: an emitter with a wrong secret retries for ever, and the 401
        # was its only trace. The sender's address, never its header; a line a minute.
        self._revocations.refused(channel)
        now = time.monotonic()
        if now >= self._next_refusal_line.get(channel, 0.0):
            self._next_refusal_line[channel] = now + _REFUSAL_LINE_INTERVAL_S
            client = request.client.host if request.client is not None else "unknown"
            logger.warning(
                "revocation events: a %s request from %s was refused (caller not "
                "authenticated; repeats are counted, not logged, for a minute)",
                channel,
                client,
            )
        # RFC 7235 §3.1: a 401 carries the challenge the client should answer.
        return _answer(401, {"error": "invalid_client"}, {"WWW-Authenticate": _CHALLENGE})

    async def _json(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        declared = (
            int(length) if length is not None and length.isascii() and length.isdigit() else None
        )
        body = await read_body(request.receive, self._max_body, declared)
        try:
            return json.loads(body)
        except NOT_JSON:
            raise _Invalid("not JSON") from None


def _revocation(data: Any) -> tuple[str, str, float | None]:
    if not isinstance(data, dict):
        raise _Invalid("not a JSON object")
    if "all" in data:
        # Exactly {"all": true}: a realm-wide revocation is never a typo's side effect.
        if data != {"all": True} or data["all"] is not True:
            raise _Invalid('"all" is true, and alone')
        return "all", "*", None
    kinds = [k for k in ("sub", "jti", "token") if k in data]
    if len(kinds) != 1 or set(data) - {kinds[0], "exp"}:
        raise _Invalid('exactly one of "sub", "jti" or "token" (and optionally "exp")')
    value = data[kinds[0]]
    if not isinstance(value, str) or not value:
        raise _Invalid("the value must be a non-empty string")
    if kinds[0] != "token":  # a token is bounded by the body's size; it is only hashed
        try:
            text(value)  # the bounds of an event's ids: length, UTF-8 text
        except MalformedEvent as exc:
            raise _Invalid(str(exc)) from None
    else:
        if not value.isascii():
            raise _Invalid("a token is ASCII")  # RFC 6750 b64token; a lone surrogate was a 500
        # As introspection reads it (ASCII whitespace around it dropped): "abc\n" was
        # hashed as it stood, and that revocation could never match the token "abc".
        value = value.strip(ASCII_SPACE)
        if not looks_like_token(value):
            raise _Invalid("the token is not shaped like an access token")
    exp = data.get("exp")
    if exp is not None and finite_seconds(exp) is None:
        raise _Invalid("exp must be a number of seconds")
    if kinds[0] == "sub" and exp is not None:
        raise _Invalid("exp applies to jti and token only")
    return kinds[0], value, finite_seconds(exp)
