"""uvicorn's httptools protocol, answering what needs no I/O itself, one write per response.

:class:`CoalescingHttpToolsProtocol` writes through a
:class:`~oauthbearer.sidecar.coalescing.CoalescingTransport` (a response leaves in one
``send``), answers introspection requests itself when the app offers
:class:`~oauthbearer.sidecar.direct.DirectAnswers` and the answer needs no I/O (no ASGI
cycle, no task: see :mod:`oauthbearer.sidecar.direct`), and bounds how a request may arrive
(:mod:`oauthbearer.sidecar.stalled`).

Example:
    >>> response_bytes((200, [], b"{}"), [(b"date", b"now")], keep_alive=True)
    ... # doctest: +NORMALIZE_WHITESPACE
    b'HTTP/1.1 200 OK\\r\\ndate: now\\r\\ncontent-type: application/json\\r\\ncache-control:
    no-store\\r\\npragma: no-cache\\r\\ncontent-length: 2\\r\\n\\r\\n{}'
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from oauthbearer.sidecar.coalescing import CoalescingTransport
from oauthbearer.sidecar.direct import STATE_KEY, DirectAnswers
from oauthbearer.sidecar.fastpath import SERVER_ERROR, Answer, answer_headers, request_headers
from oauthbearer.sidecar.stalled import MAX_HEAD_BYTES, watch
from oauthbearer.sidecar.tls import client_identity

logger = logging.getLogger("oauthbearer.sidecar")

__all__ = ["CoalescingHttpToolsProtocol", "response_bytes"]


def response_bytes(
    answer: Answer, default_headers: list[tuple[bytes, bytes]], *, keep_alive: bool
) -> bytes:
    """The whole HTTP/1.1 response for ``answer``, as uvicorn writes its own.

    ``default_headers`` are the server's (uvicorn's ``date``); a connection that is not
    kept alive says so.

    Example:
        >>> response_bytes((200, [], b"{}"), [(b"date", b"now")], keep_alive=False)
        ... # doctest: +NORMALIZE_WHITESPACE
        b'HTTP/1.1 200 OK\\r\\ndate: now\\r\\ncontent-type: application/json\\r\\ncache-control:
        no-store\\r\\npragma: no-cache\\r\\ncontent-length: 2\\r\\nconnection: close\\r\\n\\r\\n{}'
    """
    status, headers, body = answer
    parts = [STATUS_LINE[status]]
    for name, value in (*default_headers, *answer_headers(headers, body)):
        parts += (name, b": ", value, b"\r\n")
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts)


class _Held:
    """An introspection request the protocol means to answer itself: its body so far."""

    __slots__ = ("authorization", "chunks", "direct", "ms")

    def __init__(self, direct: DirectAnswers, ms: bool, authorization: str | None) -> None:
        self.direct = direct
        self.ms = ms
        self.authorization = authorization
        self.chunks: list[bytes] = []


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a :class:`CoalescingTransport`, and
    answering introspection requests itself when that needs no I/O.

    Passed to ``uvicorn.Config(http=...)`` by ``oauthbearer serve``.
    """

    _tls_extension: dict[object, object] | None = None
    _client_cert: str | None = None
    _direct: DirectAnswers | None = None
    _held: _Held | None = None
    _closing = False  # the server is shutting down: answer what is being read, then close
    #: When the request being read began (loop time), None between requests (stalled.py).
    reading_since: float | None = None
    #: Since when the connection waits for its next request (loop time), else None: the
    #: sweep of stalled.py closes it after ``timeout_keep_alive``, in place of a timer.
    idle_since: float | None = None
    _head_open = False  # a request's head is being read
    _head_bytes = 0  # bytes read while it was

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]
        # A client certificate verified in the handshake (mTLS): its subject reaches the
        # app as the ASGI TLS extension's client_cert_name, once per connection.
        name = client_identity(transport.get_extra_info("peercert"))
        if name is not None:
            self._tls_extension = {"client_cert_name": name}
            self._client_cert = name
        direct = self.app_state.get(STATE_KEY)
        self._direct = direct if isinstance(direct, DirectAnswers) else None
        # A connection that sends nothing is as stalled as a request that stops halfway.
        self.reading_since = self.loop.time()
        watch(self.server_state, self.connections, self.loop)

    def data_received(self, data: bytes) -> None:
        # Not idle_since = None here: on_message_begin clears it at a request's first byte.
        # Bytes that start no request (a stray CRLF, the rest of a body answered early)
        # must not make an idle connection look busy for ever.
        super().data_received(data)
        if self._head_open:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self.refuse(431)

    def refuse(self, status: int) -> None:
        """Close the connection for how its request arrives (431 too large, 408 too slow),
        saying so unless a response is being sent on it."""
        if self.transport.is_closing():
            return
        logger.warning(
            "request refused with %d, connection closed (%s)",
            status,
            self.client[0] if self.client else "?",
        )
        if self.cycle is None or self.cycle.response_complete:
            answer: Answer = (status, [], b'{"error":"invalid_request"}')
            self.transport.write(
                response_bytes(answer, self.server_state.default_headers, keep_alive=False)
            )
        self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A pipelined request parsed from the same read as a request answered at once:
        # that answer made the connection idle, and it must not be closed under this
        # request while its upstream call runs.
        self.idle_since = None
        self.reading_since = self.loop.time()
        self._head_open = True
        if self._tls_extension is not None:
            self.scope["extensions"] = {"tls": self._tls_extension}

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_bytes = 0
        self._held = self._hold()
        if self._held is None:
            super().on_headers_complete()

    def _hold(self) -> _Held | None:
        """A :class:`_Held` when this request may be answered here, else None (ASGI)."""
        direct = self._direct
        if direct is None:
            return None
        ms = direct.paths.get(self.url)  # the raw target: a query string goes the ASGI way
        if ms is None or self.parser.get_method() != b"POST" or self.expect_100_continue:
            return None
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            return None  # pipelined behind a response still being made: keep the order
        if self.flow.write_paused:
            return None  # the client is not reading: uvicorn's cycle waits for the drain
        if self.parser.should_upgrade():
            return None
        authorization, length = request_headers(self.headers)
        # Only a body of a declared length within the limit is gathered here; a chunked
        # or oversized one gets the ASGI path's streaming limit (and its 413).
        if length is None or length > direct.max_body_bytes:
            return None
        return _Held(direct, ms, authorization)

    def on_body(self, body: bytes) -> None:
        if self._held is None:
            super().on_body(body)
        else:
            self._held.chunks.append(body)

    def on_message_complete(self) -> None:
        self.reading_since = None
        held, self._held = self._held, None
        if held is None:
            super().on_message_complete()
            return
        body = b"".join(held.chunks)
        answer: Answer | None
        try:
            answer = held.direct.answer_now(
                held.authorization, body, ms=held.ms, client_cert=self._client_cert
            )
        except Exception as exc:  # noqa: BLE001 - the wire gets 500, never a trace
            logger.error("unexpected error: %s", type(exc).__name__)  # noqa: TRY400
            answer = (500, [], SERVER_ERROR)
        if answer is None:
            # It needs I/O: the ASGI way, as if it had never been held.
            super().on_headers_complete()
            if self._closing:
                self.cycle.keep_alive = False
            if body:
                super().on_body(body)
            super().on_message_complete()
            return
        # As uvicorn decides it for its own responses.
        keep_alive = (
            not self._closing
            and self.parser.get_http_version() != "1.0"
            and self.parser.should_keep_alive()
        )
        self.transport.write(
            response_bytes(answer, self.server_state.default_headers, keep_alive=keep_alive)
        )
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()  # uvicorn's bookkeeping: request count, flow, idleness

    def on_response_complete(self) -> None:
        """uvicorn's own, except that an idle connection is marked, not given a timer.

        uvicorn arms a keep-alive timer after every response (``call_later``) and cancels
        it on the next request: about 2 µs of a 25 µs cache hit under load. The sweep
        that already bounds slow requests (stalled.py) closes a connection idle longer
        than ``timeout_keep_alive`` instead, at most one sweep interval late.
        """
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()  # a timer armed by uvicorn code we do not see
        self.flow.resume_reading()
        if self.pipeline:  # an ASGI request queued behind this response starts now
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self.idle_since = self.loop.time()

    def pause_writing(self) -> None:
        """The client reads slower than it asks: stop reading its requests until it catches up.

        uvicorn stops reading a connection whose answers back up only when a request is
        pipelined behind an ASGI response still waiting to be sent. Answers written here
        wait for nothing, so without this a client that never reads could make the
        sidecar hold every answer it asked for in memory.
        """
        super().pause_writing()
        self.flow.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        # Unless uvicorn keeps reading paused for its own cycle (it resumes when that ends).
        if not self.pipeline and (self.cycle is None or self.cycle.response_complete):
            self.flow.resume_reading()

    def shutdown(self) -> None:
        """Graceful shutdown: a request being read is answered first, then the connection
        closes (uvicorn lets a running ASGI cycle finish the same way)."""
        if self._held is not None:
            self._closing = True
            return
        super().shutdown()
