"""The upstream's HTTP transport against real loopback servers, TLS included.

httpcore on asyncio streams (oauthbearer/verify/transport.py) replaces the anyio layer
under httpx, so these tests use real sockets: keep-alive reuse, a server closing an idle
connection, TLS with the right and the wrong CA, timeouts, refusals, and the whole
sidecar calling an HTTPS upstream through the client its lifespan builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import trustme

from oauthbearer.errors import UpstreamUnavailable
from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.verify.transport import async_transport
from oauthbearer.verify.upstream import UpstreamIntrospector
from tests.support.asgi import asgi_client
from tests.support.ports import free_port

ANSWER = json.dumps({"active": True, "sub": "orders", "exp": 4102444800}).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(ANSWER)}\r\n\r\n".encode()
    + ANSWER
)
LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)


def content_length(head: bytes) -> int:
    """The Content-Length of a request head (0 when absent)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@dataclass
class Upstream:
    """A tiny HTTP/1.1 introspection endpoint: counts connections, can misbehave."""

    port: int
    scheme: str
    connections: int = 0
    requests: int = 0
    close_after_response: bool = False
    silent: bool = False
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    request_lines: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.scheme}://localhost:{self.port}/introspect"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.request_lines.append(head.split(b"\r\n", 1)[0])
                await reader.readexactly(content_length(head))
                self.requests += 1
                if self.silent:
                    await asyncio.Event().wait()  # never answers
                writer.write(RESPONSE)
                await writer.drain()
                if self.close_after_response:
                    break  # an idle keep-alive connection the server ends
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self.closed.set()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


async def _serve(ssl_context: ssl.SSLContext | None) -> AsyncIterator[Upstream]:
    upstream = Upstream(free_port(), "https" if ssl_context else "http")
    server = await asyncio.start_server(
        upstream.handle, "127.0.0.1", upstream.port, ssl=ssl_context
    )
    async with server:
        yield upstream
        server.close()


@pytest.fixture
async def plain() -> AsyncIterator[Upstream]:
    async for upstream in _serve(None):
        yield upstream


@pytest.fixture
async def tls(ca: trustme.CA) -> AsyncIterator[Upstream]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    async for upstream in _serve(context):
        yield upstream


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


async def test_keep_alive_connections_are_reused(plain: Upstream) -> None:
    async with httpx.AsyncClient(transport=async_transport(limits=LIMITS)) as client:
        for _ in range(20):
            response = await client.post(plain.url, content=b"token=t")
            assert (response.status_code, response.content) == (200, ANSWER)
        answers = await asyncio.gather(*(client.post(plain.url, content=b"t") for _ in range(4)))
    assert {r.status_code for r in answers} == {200}
    assert plain.requests == 24
    assert plain.connections <= 4  # never one per request


async def test_an_idle_connection_the_server_closed_is_not_reused(plain: Upstream) -> None:
    plain.close_after_response = True
    async with httpx.AsyncClient(transport=async_transport(limits=LIMITS)) as client:
        assert (await client.post(plain.url, content=b"token=1")).status_code == 200
        await asyncio.wait_for(plain.closed.wait(), 5)
        for _ in range(20):  # event-loop turns for the client side to see the EOF
            await asyncio.sleep(0)
        # The pool sees the EOF on its idle connection and opens a new one; without that
        # check this request would fail with "server disconnected".
        assert (await client.post(plain.url, content=b"token=2")).status_code == 200
    assert plain.connections == 2


class ClosingServer:
    """A blocking server on its own thread: answers, then closes the first connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.first_closed = threading.Event()
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.connections += 1
                with conn:
                    while self._answer(conn) and self.connections > 1:
                        pass
                if self.connections == 1:
                    self.first_closed.set()

    @staticmethod
    def _answer(conn: socket.socket) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = content_length(head)
        while len(body) < length:
            body += conn.recv(4096)
        conn.sendall(RESPONSE)
        return True

    def close(self) -> None:
        self.listener.close()


async def test_a_close_the_event_loop_has_not_seen_yet_is_detected() -> None:
    # The restarted-IdP case: the peer's FIN is in the kernel, but this event loop has
    # not polled since (it was busy), so the stream itself does not know yet.
    server = ClosingServer()
    url = f"http://127.0.0.1:{server.port}/jwks"
    try:
        async with httpx.AsyncClient(transport=async_transport(limits=LIMITS)) as client:
            assert (await client.post(url, content=b"token=1")).status_code == 200
            assert server.first_closed.wait(5)  # blocks the loop: the FIN stays unread
            assert (await client.post(url, content=b"token=2")).status_code == 200
    finally:
        server.close()
    assert server.connections == 2


async def test_tls_with_the_configured_ca(tls: Upstream, ca: trustme.CA) -> None:
    transport = async_transport(limits=LIMITS, verify=trusting(ca))
    async with httpx.AsyncClient(transport=transport) as client:
        for _ in range(5):
            response = await client.post(tls.url, content=b"token=t")
            assert (response.status_code, response.content) == (200, ANSWER)
    assert tls.connections == 1


async def test_tls_with_an_unknown_ca_is_refused(tls: Upstream) -> None:
    other = trustme.CA()
    transport = async_transport(limits=LIMITS, verify=trusting(other))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.post(tls.url, content=b"token=t")
    assert tls.requests == 0


async def test_timeouts_and_refusals_are_httpx_errors(plain: Upstream) -> None:
    plain.silent = True
    async with httpx.AsyncClient(transport=async_transport(limits=LIMITS)) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(plain.url, content=b"token=t", timeout=0.2)
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{free_port()}/x", content=b"t")


async def test_upstream_introspector_over_tls(tls: Upstream, ca: trustme.CA) -> None:
    transport = async_transport(limits=LIMITS, verify=trusting(ca))
    async with httpx.AsyncClient(transport=transport) as client:
        upstream = UpstreamIntrospector(tls.url, client=client, timeout=2.0)
        assert (await upstream.introspect("a-token"))["sub"] == "orders"
        untrusted = httpx.AsyncClient(
            transport=async_transport(limits=LIMITS, verify=trusting(trustme.CA()))
        )
        async with untrusted:
            refused = UpstreamIntrospector(tls.url, client=untrusted, timeout=2.0)
            with pytest.raises(UpstreamUnavailable, match="unreachable"):
                await refused.introspect("a-token")


async def introspect_through_a_sidecar(upstream: str, **env: str) -> httpx.Response:
    """One introspection by a sidecar whose lifespan builds its own upstream client."""
    settings = SidecarSettings.from_env(
        {
            "OAUTH_INTROSPECT_SERVER": upstream,
            "OAUTH_INTROSPECT_ENDPOINT": "/introspect",
            "OAUTH_INTROSPECT_AUTHORIZATION": "Basic ZmFrZTpmYWtl",
            "OAUTHBEARER_CALLERS": "broker:fake-broker-secret",
            **env,
        }
    )
    async with asgi_client(create_app(settings)) as client:  # no http_client injected
        return await client.post(
            "/oauth2/introspect",
            data={"token": "an-opaque-token"},
            auth=("broker", "fake-broker-secret"),
        )


async def test_the_sidecar_calls_an_https_upstream_with_its_ca_file(
    tls: Upstream, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    response = await introspect_through_a_sidecar(
        f"localhost:{tls.port}", OAUTH_WITH_SSL="true", OAUTHBEARER_CA_FILE=str(ca_file)
    )
    assert response.status_code == 200
    assert response.json()["active"] is True
    assert tls.requests == 1


async def test_the_sidecar_honours_http_proxy_from_the_environment(
    plain: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The "proxy" is the test upstream itself: an HTTP proxy receives the request with
    # the absolute URL as its target, which our server happily answers. The upstream's
    # own name does not even resolve: only the proxy can have reached it.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{plain.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    response = await introspect_through_a_sidecar("upstream.invalid:8443", OAUTH_WITH_SSL="false")
    assert response.json()["active"] is True
    assert plain.request_lines == [b"POST http://upstream.invalid:8443/introspect HTTP/1.1"]
