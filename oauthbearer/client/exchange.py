"""One HTTP exchange with the authorization server, over by a deadline whatever it does.

httpx bounds each phase of a request (pool, connect, write) and each socket *read*, not
the request: a server that sends its answer a few bytes at a time, each piece inside the
read timeout, holds the caller as long as it likes (16 s at ``timeout=5`` in review).
confluent-kafka's constructor waits only 10 s for the first token (CONTRACT §6).

So the exchange runs on a worker thread that streams the answer and stops at the first
piece that arrives past the deadline, while the caller waits for that thread no longer
than the deadline. Python cannot interrupt a blocked socket read, but the read need not
hold the caller: an abandoned worker ends at its next piece or at its own per-phase
timeout (at most the time that was left), and closes the response.

A caller may pass a :class:`LateAnswer`: then the worker it gives up on takes pieces for
one more budget, and an answer that completes is handed to it instead of being dropped
(a read blocked in the socket still ends only at its own timeout, that whole time). A
refresh-token grant needs that: the server may have retired the refresh token we sent
and issued the only one left in an answer that arrived just too late (RFC 9700 §4.14.2).

Each request leases its client (:mod:`oauthbearer.client.http_clients`) for as long as
its worker runs, abandoned or not: a client replaced meanwhile (renewed TLS files) is
closed only after its last request is over.

With :mod:`oauthbearer.client.fetcher` and :mod:`oauthbearer.client.http_clients` this is
all of the client half that touches httpx, and the place its exceptions become
:mod:`oauthbearer.errors`.

Example:
    >>> import httpx
    >>> def idp(request: httpx.Request) -> httpx.Response:
    ...     return httpx.Response(200, json={"access_token": "t0k3n"})
    >>> exchange = Exchange(httpx.Client(transport=httpx.MockTransport(idp)))
    >>> answer = exchange.send("GET", "https://idp.example/m", {}, None,
    ...                        deadline=time.monotonic() + 5.0, budget=5.0)
    >>> answer.status, answer.body
    (200, b'{"access_token":"t0k3n"}')
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol
from urllib.parse import urlsplit

import httpx

from oauthbearer.client.http_clients import ClientSource, FixedClient, Lease
from oauthbearer.client.redaction import redact
from oauthbearer.errors import TokenRequestError

__all__ = ["MAX_ANSWER_BYTES", "Answer", "Exchange", "LateAnswer", "Wait", "endpoint_host"]

logger = logging.getLogger("oauthbearer.client.exchange")

#: A token response or a metadata document is a few KiB; more is not an answer we want.
MAX_ANSWER_BYTES = 1 << 20

#: How the caller waits for the worker: ``wait(done, seconds) -> done.is_set()``. The test
#: seam for "the time ran out" without waiting for it.
Wait = Callable[[threading.Event, float], bool]


def _wait(done: threading.Event, seconds: float) -> bool:
    return done.wait(seconds)


@dataclass(frozen=True, slots=True)
class Answer:
    """A whole HTTP answer: status, headers and the (decoded) body."""

    status: int
    headers: httpx.Headers
    body: bytes


class LateAnswer(Protocol):
    """Told when the caller gives up on an exchange whose answer still matters.

    ``given_up`` runs in the caller's thread, before ``ended``, and must not raise;
    ``ended`` runs once, in the worker's thread, with the whole answer, or ``None`` if
    none came within one more budget (what it raises is logged by type and dropped).
    """

    def given_up(self) -> None: ...

    def ended(self, answer: Answer | None) -> None: ...


class _PastDeadline(Exception):
    """The answer was still arriving at the deadline."""


class _TooLarge(Exception):
    """The answer passed :data:`MAX_ANSWER_BYTES`."""


class Exchange:
    """Sends requests through ``http``, each over by its deadline. Thread-safe.

    ``http`` is a client, or a :class:`~oauthbearer.client.http_clients.ClientSource`
    whose current client each request leases.

    ``monotonic`` reads the clock deadlines are in; ``wait`` is how the caller waits for
    the worker (:data:`Wait`); ``secrets`` are the spellings taken out of any httpx
    message (the request's credentials must never reach an error).
    """

    def __init__(
        self,
        http: httpx.Client | ClientSource,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Wait | None = None,
        secrets: Callable[[], Sequence[str]] = tuple,
    ) -> None:
        self._clients = FixedClient(http) if isinstance(http, httpx.Client) else http
        self._monotonic = monotonic
        self._wait = _wait if wait is None else wait
        self._secrets = secrets

    def send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: bytes | None,
        *,
        deadline: float,
        budget: float,
        late: LateAnswer | None = None,
        secrets: Sequence[str] | None = None,
    ) -> Answer:
        """The whole answer, or TokenRequestError (naming ``url``'s host) by ``deadline``.

        ``deadline`` is in ``monotonic`` seconds; ``budget`` is the whole fetch's time,
        for the message ("timed out after 5 s" is what the operator configured).
        ``late`` is told if the caller gives up (:class:`LateAnswer`). ``secrets``, when
        given, are this request's spellings to take out of an error (instead of the
        constructor's: the request may carry credentials the settings do not hold).
        """
        host = endpoint_host(url)
        now = self._monotonic()
        remaining = deadline - now
        if remaining <= 0:
            raise _timed_out(host, budget)
        # The worker's own end: the caller's deadline, or one budget later for a late answer.
        reads_until = deadline if late is None else deadline + budget
        lease = self._clients.lease()
        call = _Call(lease, self._monotonic, reads_until, late)
        worker = threading.Thread(
            target=call.run,
            args=(method, url, headers, content, reads_until - now),
            name="oauthbearer-http",
            daemon=True,  # an abandoned read must not keep the process alive at exit
        )
        try:
            worker.start()
        except BaseException:
            lease.release()  # the worker that would have released it never ran
            raise
        try:
            finished = self._wait(call.done, remaining)
        except BaseException:  # interrupted while waiting: given up all the same
            call.give_up()
            raise
        if not finished and call.give_up():
            raise _timed_out(host, budget)
        if call.answer is None:
            self._raise(call.error, host, budget, secrets)
        return call.answer

    def _raise(
        self, exc: BaseException | None, host: str, budget: float, secrets: Sequence[str] | None
    ) -> NoReturn:
        # The single translation of httpx exceptions in the client half.
        if isinstance(exc, httpx.TimeoutException | _PastDeadline):
            raise _timed_out(host, budget) from exc
        if isinstance(exc, _TooLarge):
            raise TokenRequestError(host, f"answer larger than {MAX_ANSWER_BYTES} bytes")
        if isinstance(exc, httpx.LocalProtocolError):
            # Its text quotes the offending request, header values included: never ours.
            raise TokenRequestError(
                host, "the request could not be written (a header value HTTP forbids)"
            ) from None
        if isinstance(exc, httpx.HTTPError):
            said = redact(str(exc), self._secrets() if secrets is None else secrets)
            # from None: the original, chained as __cause__, keeps the unredacted text
            # (h11 quotes bytes it received, an echoed request body among them).
            raise TokenRequestError(host, f"{type(exc).__name__}: {said}") from None
        if isinstance(exc, httpx.InvalidURL):
            raise TokenRequestError(host, f"invalid URL: {exc}") from exc
        if exc is None:  # cannot happen: the worker sets an answer or an error
            raise TokenRequestError(host, "the exchange ended without an answer")
        raise exc  # not httpx's (a bug in a transport): as it is


class _Call:
    """One exchange on its worker thread; ``done`` is set once ``answer`` or ``error`` is."""

    def __init__(
        self,
        lease: Lease,
        monotonic: Callable[[], float],
        reads_until: float,
        late: LateAnswer | None,
    ) -> None:
        self._lease = lease
        self._monotonic = monotonic
        self._reads_until = reads_until
        self._late = late
        # Orders the caller giving up against the worker ending: exactly one of them sees
        # the other's step, so an answer is either the caller's or handed to late.ended.
        self._lock = threading.Lock()
        self._given_up = False
        self.done = threading.Event()
        self.abandoned = threading.Event()
        self.answer: Answer | None = None
        self.error: BaseException | None = None

    def give_up(self) -> bool:
        """The caller stops waiting; False if the worker ended meanwhile (take its result).

        Without a late handler the worker stops at its next piece and closes up; with
        one it reads on to its own deadline and hands over what it got.
        """
        with self._lock:
            if self.done.is_set():
                return False
            if self._late is not None:
                self._late.given_up()  # under the lock: before the worker's ended()
            self._given_up = True
        if self._late is None:
            self.abandoned.set()
        return True

    def run(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None, left: float
    ) -> None:
        try:
            # Each phase may take what is left, no more: the deadline caps the sum.
            with self._lease.client.stream(
                method,
                url,
                # identity: the answer cap counts bytes as received; a compressed answer
                # would be inflated (a 59 KiB gzip to 100+ MiB) before any check.
                headers={**headers, "Accept-Encoding": "identity"},
                content=content,
                timeout=httpx.Timeout(left),
            ) as response:
                body = bytearray()
                for piece in response.iter_bytes():
                    body += piece
                    self._check(len(body))
                self._check(len(body))  # headers alone may arrive late
                self.answer = Answer(response.status_code, response.headers, bytes(body))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, never lost
            self.error = exc
        finally:
            try:
                # Here, not in the caller: an abandoned worker still uses the client.
                self._lease.release()
            finally:
                with self._lock:
                    late = self._late if self._given_up else None
                    self.done.set()
                if late is not None:
                    _hand_over(late, self.answer)

    def _check(self, size: int) -> None:
        if self.abandoned.is_set() or self._monotonic() > self._reads_until:
            raise _PastDeadline
        if size > MAX_ANSWER_BYTES:
            raise _TooLarge


def _hand_over(late: LateAnswer, answer: Answer | None) -> None:
    try:
        late.ended(answer)
    except Exception as exc:  # noqa: BLE001 - a worker thread has no one to raise to
        logger.warning("a late answer could not be used: %s", type(exc).__name__)


def endpoint_host(url: str) -> str:
    """``host[:port]`` of ``url``, without any ``user:password@`` (the only part we log).

    Example:
        >>> endpoint_host("https://user:pw@idp.example:8443/token")
        'idp.example:8443'
    """
    return urlsplit(url).netloc.rpartition("@")[2]


def _timed_out(host: str, budget: float) -> TokenRequestError:
    return TokenRequestError(host, f"timed out after {round(budget, 1):g} s", timed_out=True)
