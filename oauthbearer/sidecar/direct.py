"""Introspection answered by the HTTP protocol itself, when the answer needs no I/O.

A bare Starlette route returning fixed bytes (bench/README.md's ceiling) spends most of
its time per request not in the route but in the ASGI cycle around it: uvicorn's
``RequestResponseCycle``, an asyncio task, the app call, the receive and send messages.
Measured on one core: answering the same fixed bytes from the HTTP parser's callback
instead ran at 3.3 times the rate. So when a whole introspection request has arrived
and :meth:`IntrospectionAnswer.answer_now` can answer it without I/O (a refusal, a cache
hit, a JWT whose keys are loaded), :class:`~oauthbearer.sidecar.http_protocol.
CoalescingHttpToolsProtocol` writes that answer at once. Anything else — an upstream
call, a JWKS fetch, a place under the per-caller limit, a chunked or oversized body,
``Expect: 100-continue``, a pipelined request behind one still running — goes the ASGI
way (:mod:`oauthbearer.sidecar.fastpath`), with the same answer code.

The app hands the protocol a :class:`DirectAnswers` through the ASGI lifespan state
(``STATE_KEY``), which uvicorn gives every connection it accepts.

Example:
    >>> direct = DirectAnswers(
    ...     answer_now=lambda auth, body, ms, cert: (200, [], b'{"active":false}'),
    ...     paths={b"/oauth2/introspect": False},
    ...     max_body_bytes=16384,
    ... )
    >>> response_bytes((200, [], b'{"active":false}'), [(b"date", b"now")], keep_alive=True)
    ... # doctest: +NORMALIZE_WHITESPACE
    b'HTTP/1.1 200 OK\\r\\ndate: now\\r\\ncontent-type: application/json\\r\\ncache-control:
    no-store\\r\\npragma: no-cache\\r\\ncontent-length: 16\\r\\n\\r\\n{"active":false}'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus

from oauthbearer.sidecar.fastpath import Answer, answer_headers

__all__ = ["STATE_KEY", "AnswerNow", "DirectAnswers", "response_bytes"]

#: The ASGI lifespan state key under which the app offers its :class:`DirectAnswers`.
STATE_KEY = "oauthbearer.direct_answers"

#: (authorization, whole body, milliseconds path, client certificate) → answer, or None
#: when the request needs I/O.
AnswerNow = Callable[[str | None, bytes, bool, str | None], Answer | None]


@dataclass(frozen=True, slots=True)
class DirectAnswers:
    """What the protocol may answer itself: ``paths`` (raw path → milliseconds answer)."""

    answer_now: AnswerNow
    paths: Mapping[bytes, bool]
    max_body_bytes: int


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase.encode("ascii"))


_STATUS_LINES = {status: _status_line(status) for status in (200, 400, 401, 413, 500)}


def response_bytes(
    answer: Answer, default_headers: list[tuple[bytes, bytes]], *, keep_alive: bool
) -> bytes:
    """The whole HTTP/1.1 response for ``answer``, as uvicorn would have written it.

    ``default_headers`` are the server's own (uvicorn's ``date``); a connection that is
    not kept alive says so.
    """
    status, headers, body = answer
    line = _STATUS_LINES.get(status) or _status_line(status)
    parts = [line]
    for name, value in (*default_headers, *answer_headers(headers, body)):
        parts += (name, b": ", value, b"\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts)
