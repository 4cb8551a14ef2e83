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
    ...     answer_now=lambda auth, body, *, ms, client_cert=None: (200, [], b"{}"),
    ...     paths={b"/oauth2/introspect": False},
    ...     max_body_bytes=16384,
    ... )
    >>> direct.answer_now(None, b"token=t", ms=False)
    (200, [], b'{}')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from oauthbearer.sidecar.fastpath import Answer

__all__ = ["STATE_KEY", "AnswerNow", "DirectAnswers"]

#: The ASGI lifespan state key under which the app offers its :class:`DirectAnswers`.
STATE_KEY = "oauthbearer.direct_answers"


class AnswerNow(Protocol):
    """:meth:`IntrospectionAnswer.answer_now`: the answer, or None when it needs I/O."""

    def __call__(
        self, authorization: str | None, body: bytes, *, ms: bool, client_cert: str | None = None
    ) -> Answer | None: ...


@dataclass(frozen=True, slots=True)
class DirectAnswers:
    """What the protocol may answer itself: ``paths`` (raw path → milliseconds answer)."""

    answer_now: AnswerNow
    paths: Mapping[bytes, bool]
    max_body_bytes: int
