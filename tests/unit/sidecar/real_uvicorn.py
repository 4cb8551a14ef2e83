"""The sidecar behind a real uvicorn on loopback, spoken to in raw bytes (test infrastructure).

It runs as ``oauthbearer serve`` runs it (``uvicorn_options()``), with a mocked upstream
and JWKS and a fake clock; the app is wrapped in a counter of ASGI calls, so a test can
tell a request the protocol answered itself from one that reached the app. The ``served``
fixture (tests/unit/sidecar/conftest.py) yields a :class:`Served`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import respx
import uvicorn
from joserfc.jwk import RSAKey

from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.cli import uvicorn_options
from tests.support.ports import free_port
from tests.unit.sidecar.conftest import (
    CALLER_ID,
    CALLER_SECRET,
    JWKS_URL,
    NOW,
    UPSTREAM_URL,
    FakeClock,
    basic,
    jwks_of,
    make_settings,
)

__all__ = ["AUTH", "Served", "read_response", "request", "serve", "without_date"]

AUTH = basic(CALLER_ID, CALLER_SECRET)


class Served:
    """The sidecar behind a real uvicorn, the ASGI calls that reached the app, a gate."""

    def __init__(self, port: int, app: Any) -> None:
        self.port = port
        self.app = app
        self.asgi_calls: list[str] = []
        self.upstream_gate = asyncio.Event()
        self.upstream_gate.set()
        self.server: uvicorn.Server | None = None

    def held_bytes(self) -> int:
        """Answers written but not yet sent, over every open connection."""
        assert self.server is not None
        return sum(
            c.transport.get_write_buffer_size() for c in self.server.server_state.connections
        )

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.port)

    async def exchange(self, raw: bytes, responses: int = 1) -> list[bytes]:
        reader, writer = await self.connect()
        try:
            writer.write(raw)
            return [await read_response(reader) for _ in range(responses)]
        finally:
            writer.close()


def request(
    token: str,
    *,
    path: str = "/oauth2/introspect",
    authorization: str | None = AUTH,
    extra: bytes = b"",
    version: bytes = b"1.1",
) -> bytes:
    body = f"token={token}".encode()
    head = b"POST %s HTTP/%s\r\nhost: sidecar\r\n" % (path.encode(), version)
    if authorization is not None:
        head += b"authorization: %s\r\n" % authorization.encode()
    head += b"content-type: application/x-www-form-urlencoded\r\n"
    return head + extra + b"content-length: %d\r\n\r\n" % len(body) + body


async def read_response(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
    assert length is not None, head
    return head + await reader.readexactly(int(length.group(1)))


def without_date(response: bytes) -> bytes:
    return re.sub(rb"date: [^\r]*\r\n", b"", response)


@contextlib.asynccontextmanager
async def serve(rsa_key: RSAKey, *, keep_alive: float = 5.0) -> AsyncIterator[Served]:
    """The sidecar served on a free port until the block ends.

    ``keep_alive`` is uvicorn's idle timeout (its default, 5 s, unless a test needs to
    see it run out).
    """
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    upstream_client = httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler))
    app = create_app(make_settings(), http_client=upstream_client, clock=FakeClock())
    it = Served(free_port(), app)

    async def upstream(request: httpx.Request) -> httpx.Response:
        await it.upstream_gate.wait()
        claims = {"active": True, "sub": "opaque-user", "exp": int(NOW) + 300}
        return httpx.Response(200, json=claims)

    router.post(UPSTREAM_URL).mock(side_effect=upstream)

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            it.asgi_calls.append(scope["path"] + "?" + scope["query_string"].decode())
        await app(scope, receive, send)

    config = uvicorn.Config(
        counting,
        host="127.0.0.1",
        port=it.port,
        log_config=None,
        lifespan="on",
        timeout_keep_alive=keep_alive,  # type: ignore[arg-type]  # uvicorn annotates int
        **uvicorn_options(),
    )
    server = it.server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield it
    finally:
        server.should_exit = True
        await task
        await upstream_client.aclose()
