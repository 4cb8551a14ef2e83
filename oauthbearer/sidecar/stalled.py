"""Bounds on how a request may arrive: its head's size, and the time it takes.

uvicorn's httptools protocol has neither. A request head is buffered whole however large
(a review sent an 8 MB header, and it was taken), and its keep-alive timeout applies only
between requests: a client that sends a byte now and then, or opens a connection and sends
nothing, holds it forever. Anyone can do both, before any credential is checked.

* A head larger than :data:`MAX_HEAD_BYTES` is refused with 431 and the connection closed.
* A request still arriving :data:`REQUEST_READ_TIMEOUT_S` after it began (or a connection
  that has sent nothing that long) is closed, with 408 when no response is being sent on
  it. One timer per server looks every :data:`SWEEP_INTERVAL_S` seconds, rather than one per
  request: the fast path pays two attribute writes, not a timer.
* The same sweep closes a connection idle between requests for longer than its keep-alive
  timeout (uvicorn's ``timeout_keep_alive``), which uvicorn did with a timer per response.

Example:
    >>> class Conn:
    ...     def __init__(self, since): self.reading_since, self.refused = since, None
    ...     def refuse(self, status): self.refused = status
    >>> slow, fresh, idle = Conn(0.0), Conn(95.0), Conn(None)
    >>> close_stalled([slow, fresh, idle], now=100.0, timeout=30.0)
    1
    >>> slow.refused, fresh.refused, idle.refused
    (408, None, None)
    >>> class Idle:
    ...     timeout_keep_alive = 5
    ...     def __init__(self, since): self.idle_since, self.closed = since, False
    ...     def timeout_keep_alive_handler(self): self.closed = True
    >>> old, recent, busy = Idle(90.0), Idle(97.0), Idle(None)
    >>> close_idle([old, recent, busy], now=100.0)
    1
    >>> old.closed, recent.closed, busy.closed
    (True, False, False)
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Collection, Iterable
from typing import Protocol

__all__ = [
    "MAX_HEAD_BYTES",
    "REQUEST_READ_TIMEOUT_S",
    "SWEEP_INTERVAL_S",
    "Stallable",
    "close_idle",
    "close_stalled",
    "watch",
]

#: A request head (request line and headers) larger than this is refused with 431. The
#: protocol counts whole reads while a head is incomplete, and a read may also hold earlier
#: pipelined requests: a head of up to this less one read (uvloop reads at most 256 KiB)
#: is never refused, and what one connection can make us hold stays under a megabyte.
MAX_HEAD_BYTES = 512 * 1024
#: Seconds a request may take to arrive whole (brokers send theirs in one write).
REQUEST_READ_TIMEOUT_S = 30.0
#: Seconds between looks for stalled connections.
SWEEP_INTERVAL_S = 5.0


class Stallable(Protocol):
    """A connection as :func:`close_stalled` sees it."""

    #: When the request being read began (loop time), or None between requests.
    reading_since: float | None

    def refuse(self, status: int) -> None: ...


def close_stalled(connections: Iterable[object], now: float, timeout: float) -> int:
    """Refuse (408) every connection whose request began over ``timeout`` ago; how many."""
    stalled = [
        c
        for c in connections
        if isinstance(since := getattr(c, "reading_since", None), float) and now - since > timeout
    ]
    for connection in stalled:
        connection.refuse(408)  # type: ignore[attr-defined]
    return len(stalled)


def close_idle(connections: Iterable[object], now: float) -> int:
    """Close every connection idle for longer than its ``timeout_keep_alive``; how many."""
    idle = [
        c
        for c in connections
        if isinstance(since := getattr(c, "idle_since", None), float)
        and now - since > c.timeout_keep_alive  # type: ignore[attr-defined]
    ]
    for connection in idle:
        connection.timeout_keep_alive_handler()  # type: ignore[attr-defined]  # uvicorn's close
    return len(idle)


# One sweep per server (its set of open connections), for as long as it has connections.
_sweeps: weakref.WeakKeyDictionary[object, asyncio.TimerHandle] = weakref.WeakKeyDictionary()


def watch(
    owner: object,
    connections: Collection[object],
    loop: asyncio.AbstractEventLoop,
    clock: Callable[[], float] | None = None,
) -> None:
    """Sweep ``connections`` every :data:`SWEEP_INTERVAL_S` while there are any.

    ``owner`` (the server's state) keys the one sweep; calling again while it runs does
    nothing, so every new connection may call it.
    """
    if owner in _sweeps:
        return
    now = clock or loop.time

    def sweep() -> None:
        snapshot, at = list(connections), now()
        close_stalled(snapshot, at, REQUEST_READ_TIMEOUT_S)
        close_idle(snapshot, at)
        if connections:
            _sweeps[owner] = loop.call_later(SWEEP_INTERVAL_S, sweep)
        else:
            _sweeps.pop(owner, None)

    _sweeps[owner] = loop.call_later(SWEEP_INTERVAL_S, sweep)
