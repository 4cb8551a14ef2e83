"""An httpx transport whose connections are plain asyncio streams (no anyio layer).

httpcore reaches the network through anyio on asyncio. Under load against a slow upstream
(bench scenario 5), py-spy showed the sidecar CPU-bound at ~3.6 ms per upstream call, a
quarter of it in one check: before and after every request the connection pool asks each
idle connection ``get_extra_info("is_readable")``, and anyio answers by building its table
of extra attributes afresh, for every connection, on every request. httpcore lets a
network backend be plugged in (``AsyncNetworkBackend``); :class:`AsyncioBackend` is one
built on ``asyncio.open_connection``, where "is the idle connection readable?" is a look
at the stream's own EOF flag and, only when that says nothing, one poll(2) of the socket.

Everything above the sockets — HTTP/1.1, pooling, keep-alive, TLS settings, timeouts and
httpx's exception mapping — stays httpx's and httpcore's; :func:`async_transport` builds a
standard ``httpx.AsyncHTTPTransport`` and gives its pool this backend.

Example:
    >>> import httpx
    >>> transport = async_transport(limits=httpx.Limits(max_connections=8))
    >>> client = httpx.AsyncClient(transport=transport)  # then use it as any httpx client
    >>> isinstance(transport, httpx.AsyncHTTPTransport)
    True
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import ssl
from collections.abc import Iterable, Mapping
from typing import Any

import httpcore
import httpx

__all__ = ["AsyncioBackend", "AsyncioStream", "async_transport", "proxies_in_environment"]

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (optionally TLS) connection as an asyncio reader/writer pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except (OSError, RuntimeError) as exc:  # RuntimeError: writing to a closed transport
            raise httpcore.WriteError(str(exc)) from exc

    async def aclose(self) -> None:
        # Not awaiting wait_closed(): a TLS shutdown waits for the peer's close_notify,
        # and a pool dropping an expired connection has no reason to wait for that.
        self._writer.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Asked of idle keep-alive connections only: anything the peer did since the
            # last response (closed, or sent stray bytes) makes the connection unusable.
            # What the loop has read shows on the reader; what it has not read yet (the
            # loop may not have polled since the peer's FIN arrived) shows on the socket.
            if self._reader.at_eof() or self._writer.is_closing() or self._buffered():
                return True
            return _socket_readable(self._writer.get_extra_info("socket"))
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info in ("ssl_object", "socket"):
            return self._writer.get_extra_info(info)
        return None

    def _buffered(self) -> bool:
        # StreamReader keeps unread bytes in _buffer; there is no public accessor.
        return bool(getattr(self._reader, "_buffer", b""))


def _socket_readable(sock: Any) -> bool:
    """Whether ``sock`` has something to read (or is gone) right now: one poll(2), no wait."""
    try:
        fd = sock.fileno()
    except (AttributeError, OSError):
        return True
    if fd < 0:
        return True
    if not hasattr(select, "poll"):  # Windows: select() has no FD_SETSIZE limit there
        return bool(select.select([fd], [], [], 0)[0])
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on asyncio streams (TCP only: no Unix sockets here)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock: socket.socket | None = writer.get_extra_info("socket")
        if sock is not None:
            for option in socket_options or ():
                sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Unix sockets are not used by oauthbearer")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def proxies_in_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``HTTP(S)_PROXY``/``ALL_PROXY`` is set (either case), as httpx reads them.

    A client given its own transport ignores those variables (httpx mounts environment
    proxies only for its default transport), so the sidecar keeps httpx's default
    transport when they are set.

    Example:
        >>> proxies_in_environment({"https_proxy": "http://proxy:3128"})
        True
        >>> proxies_in_environment({"NO_PROXY": "*"})
        False
    """
    env = os.environ if environ is None else environ
    return any(env.get(name) or env.get(name.lower()) for name in _PROXY_VARIABLES)


def async_transport(
    *, limits: httpx.Limits, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncHTTPTransport:
    """An ``httpx.AsyncHTTPTransport`` (HTTP/1.1, no proxy) on :class:`AsyncioBackend`."""
    transport = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
    ssl_context = httpx.create_ssl_context(verify=verify)
    # httpx builds its pool without a network_backend parameter; this is the same pool
    # with ours. No proxy here: with HTTP(S)_PROXY set, callers keep httpx's default
    # transport instead (see proxies_in_environment).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=True,
        http2=False,
        network_backend=AsyncioBackend(),
    )
    return transport
