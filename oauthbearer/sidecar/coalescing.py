"""One socket write per response: the writes of one event-loop turn, sent together.

uvicorn writes a response's status line and headers in one ``transport.write`` and its
body in another, and uvloop sends each at once: two ``send`` syscalls and two TCP
segments for every introspection answer, which profiling (py-spy, cache-hit load)
showed as the largest single cost of the fast path. :class:`CoalescingTransport` holds
the writes made in one turn of the event loop and sends them together at the end of
that turn, so a response leaves in one syscall. Nothing waits for a timer: the flush
is scheduled with ``call_soon``, before the loop next polls for I/O.

Example:
    >>> import asyncio
    >>> class Sink:
    ...     sent: list[bytes] = []
    ...     def write(self, data: bytes) -> None: self.sent.append(bytes(data))
    ...     def is_closing(self) -> bool: return False
    >>> async def demo() -> list[bytes]:
    ...     sink = Sink()
    ...     t = CoalescingTransport(sink, asyncio.get_running_loop())  # type: ignore[arg-type]
    ...     t.write(b"HTTP/1.1 200 OK\\r\\n\\r\\n"); t.write(b"{}")
    ...     await asyncio.sleep(0)
    ...     return sink.sent
    >>> asyncio.run(demo())
    [b'HTTP/1.1 200 OK\\r\\n\\r\\n{}']
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["CoalescingTransport"]


class CoalescingTransport:
    """A transport proxy that sends the writes of one event-loop turn as one write.

    Everything but ``write``/``writelines`` and the calls that end or inspect the
    outgoing stream is passed through; those first flush what is held, so ordering and
    close semantics are the wrapped transport's own.
    """

    __slots__ = ("_loop", "_pending", "_scheduled", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self._pending.append(bytes(data))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Send what is held now (called by the loop; also before close and EOF)."""
        self._scheduled = False
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        held = sum(len(data) for data in self._pending)
        return held + self._transport.get_write_buffer_size()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
