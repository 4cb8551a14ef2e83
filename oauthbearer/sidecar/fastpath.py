"""The introspection routes as a pure ASGI middleware, ahead of Starlette's router.

Every broker login is one request here, and a cache hit does almost nothing: look up a
SHA-256 digest and send stored bytes. Starlette's router, ``Request``, body streaming,
``Response`` header building and exception middleware cost more than that work itself
(the cache hit ran at 0.62 times a bare Starlette route returning fixed bytes, bench/README.md),
so the two introspection paths are answered straight from the ASGI messages. Everything
else — the lifespan, /healthz, /readyz, /metrics, /openapi.json, the event webhooks —
goes on to the router unchanged.

Under ``oauthbearer serve`` most introspection requests do not even get here: the HTTP
protocol answers what needs no I/O itself (:mod:`oauthbearer.sidecar.direct`), and this
path takes the rest (upstream calls, JWKS fetches, chunked bodies, other servers).

What the request means is decided by :meth:`Sidecar.answer`; this module only moves bytes:
headers from the scope, the body from ``receive`` (bounded), the answer to ``send``. An
unexpected error becomes 500 ``server_error`` with no trace, as Starlette's handler does.

Example:
    >>> async def inner(scope, receive, send): ...
    >>> IntrospectionFastPath(inner, answer=None, paths={}).paths
    {}
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Protocol

__all__ = [
    "SERVER_ERROR",
    "Answer",
    "BodyTooLarge",
    "IntrospectionFastPath",
    "answer_headers",
    "read_body",
    "request_headers",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("oauthbearer.sidecar")

#: (status, extra headers, body) — the introspection answer, transport-free.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

# RFC 7662 §2.2 answers carry credentials' metadata: no intermediary may keep them.
_BASE_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]
#: The body of a 500: what went wrong is logged (its type only), never sent.
SERVER_ERROR = b'{"error":"server_error"}'
_UNAVAILABLE = b'{"error":"temporarily_unavailable"}'
_NOT_ALLOWED = b'{"error":"method_not_allowed"}'


class BodyTooLarge(Exception):
    """The request body is over the configured limit (→ 413)."""


class _Disconnected(Exception):
    """The client went away before sending its whole body: nothing to answer."""


class AnswerFunction(Protocol):
    def __call__(
        self,
        authorization: str | None,
        read_body: Callable[[], Awaitable[bytes]],
        *,
        ms: bool,
        client_cert: str | None = None,
    ) -> Awaitable[Answer]: ...


class IntrospectionFastPath:
    """ASGI app answering POSTs on ``paths`` itself and passing everything else on.

    ``paths`` maps a path to whether its answer uses milliseconds (jairsjunior's
    KAFKA-13848 workaround path).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        answer: AnswerFunction | None,
        paths: dict[str, bool],
        max_body_bytes: int = 16384,
    ) -> None:
        self.app = app
        self.answer = answer
        self.paths = paths
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ms = self.paths.get(scope["path"]) if scope["type"] == "http" else None
        if ms is None or self.answer is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send(send, 405, [(b"allow", b"POST")], _NOT_ALLOWED)
            return
        authorization, declared = request_headers(scope["headers"])

        async def body() -> bytes:
            return await read_body(receive, self.max_body_bytes, declared)

        try:
            tls = scope.get("extensions", {}).get("tls") or {}
            client_cert = tls.get("client_cert_name")
            status, headers, answer = await self.answer(
                authorization, body, ms=ms, client_cert=client_cert
            )
        except _Disconnected:
            return
        except asyncio.CancelledError:
            # The server stopped waiting (shutdown past OAUTHBEARER_SHUTDOWN_TIMEOUT) while
            # this request waited on the upstream: no verdict, so the contract's 503 (the
            # broker retries), not uvicorn's text/plain 500. The task ends right after
            # this answer, which is all its canceller asks of it.
            status, headers, answer = 503, [(b"retry-after", b"1")], _UNAVAILABLE
        except Exception as exc:  # noqa: BLE001 - the wire gets 500, never a trace
            # The type only: a traceback's frames could quote a token.
            logger.error("unexpected error: %s", type(exc).__name__)  # noqa: TRY400
            status, headers, answer = 500, [], SERVER_ERROR
        await _send(send, status, headers, answer)


def request_headers(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, int | None]:
    """The first ``Authorization`` value, and the body's length if exactly one well-formed
    ``Content-Length`` declares it (None otherwise: the body's own end then decides).

    Example:
        >>> request_headers([(b"authorization", b"Basic eA=="), (b"content-length", b"7")])
        ('Basic eA==', 7)
        >>> request_headers([(b"content-length", b"7"), (b"content-length", b"8")])
        (None, None)
    """
    authorization: str | None = None
    lengths: list[bytes] = []
    for name, value in headers:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"content-length":
            lengths.append(value)
    if len(lengths) == 1 and lengths[0].isdigit():
        return authorization, int(lengths[0])
    return authorization, None


async def read_body(receive: Receive, limit: int, declared: int | None) -> bytes:
    """The whole request body from ASGI ``receive``; :class:`BodyTooLarge` past ``limit``.

    A declared ``Content-Length`` over the limit is refused before anything is read; a
    body that streams past it is refused as soon as it does.
    """
    if declared is not None and declared > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def answer_headers(headers: list[tuple[bytes, bytes]], body: bytes) -> list[tuple[bytes, bytes]]:
    """Every header of an introspection answer: the common ones, ``headers``, the length."""
    return [*_BASE_HEADERS, *headers, (b"content-length", b"%d" % len(body))]


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": answer_headers(headers, body),
        }
    )
    await send({"type": "http.response.body", "body": body})
