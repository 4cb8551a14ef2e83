"""One write per response: the coalescing transport, alone and under uvicorn's protocol."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import httpx
import uvicorn
from uvicorn.server import ServerState

from oauthbearer.sidecar.cli import uvicorn_options
from oauthbearer.sidecar.coalescing import CoalescingTransport
from oauthbearer.sidecar.fastpath import IntrospectionFastPath
from oauthbearer.sidecar.http_protocol import CoalescingHttpToolsProtocol
from tests.support.ports import free_port
from tests.support.transport import RecordingTransport


async def test_writes_of_one_loop_turn_leave_as_one() -> None:
    sink = RecordingTransport()
    transport = CoalescingTransport(sink, asyncio.get_running_loop())
    transport.write(b"head ")
    transport.write(bytearray(b"body"))
    transport.writelines([b" and", memoryview(b" more")])
    assert sink.writes == []  # held until the end of this turn
    assert transport.get_write_buffer_size() == len(b"head body and more")
    await asyncio.sleep(0)
    assert sink.writes == [b"head body and more"]
    transport.write(b"next turn")
    await asyncio.sleep(0)
    assert sink.writes == [b"head body and more", b"next turn"]


async def test_close_and_eof_send_what_is_held_first() -> None:
    sink = RecordingTransport()
    transport = CoalescingTransport(sink, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.write_eof()
    transport.write(b"after eof")
    transport.close()
    assert sink.writes == [b"last words", b"after eof"]
    assert sink.events == ["write", "eof", "write", "close"]
    await asyncio.sleep(0)  # the scheduled flush finds nothing left to send
    assert sink.writes == [b"last words", b"after eof"]


async def test_nothing_is_written_to_a_transport_already_closing() -> None:
    sink = RecordingTransport()
    transport = CoalescingTransport(sink, asyncio.get_running_loop())
    transport.write(b"")  # empty writes are not even scheduled
    transport.write(b"too late")
    sink.closing = True  # e.g. the peer went away in the meantime
    await asyncio.sleep(0)
    assert sink.writes == []


async def test_everything_else_is_the_wrapped_transport() -> None:
    sink = RecordingTransport()
    transport = CoalescingTransport(sink, asyncio.get_running_loop())
    transport.pause_reading()
    transport.resume_reading()
    sink.buffered = 7
    assert transport.get_write_buffer_size() == 7
    assert transport.get_extra_info("peername") == ("127.0.0.1", 40000)
    assert sink.events == ["pause", "resume"]


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    body = b'{"active":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def test_uvicorn_protocol_sends_a_whole_response_in_one_write() -> None:
    config = uvicorn.Config(_ok, log_config=None, **uvicorn_options())
    assert config.http is CoalescingHttpToolsProtocol
    protocol = CoalescingHttpToolsProtocol(config, ServerState(), {})
    sink = RecordingTransport()
    protocol.connection_made(sink)
    request = b"POST /oauth2/introspect HTTP/1.1\r\nhost: x\r\ncontent-length: 7\r\n\r\ntoken=t"
    protocol.data_received(request + request)  # two pipelined requests
    for _ in range(20):
        await asyncio.sleep(0)
    assert len(sink.writes) == 2  # one per response, headers and body together
    for response in sink.writes:
        assert response.startswith(b"HTTP/1.1 200 OK\r\n")
        assert response.endswith(b'\r\n\r\n{"active":true}')
    protocol.connection_lost(None)


def test_a_real_server_with_these_options_keeps_connections_alive() -> None:
    port = free_port()
    clients: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        clients.append(scope["client"])
        await _ok(scope, receive, send)

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="off", **uvicorn_options()
    )
    server = uvicorn.Server(config)

    async def run() -> list[httpx.Response]:
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                return [await client.post("/", content=b"token=t") for _ in range(50)]
        finally:
            server.should_exit = True
            await task

    responses = asyncio.run(run())
    assert {(r.status_code, r.text) for r in responses} == {(200, '{"active":true}')}
    assert "server" not in responses[0].headers  # server_header=False
    assert len(clients) == 50
    assert len(set(clients)) == 1  # all on one kept-alive connection


async def test_a_request_cut_off_by_shutdown_gets_503_not_uvicorns_text_500() -> None:
    """uvicorn cancels what is still running when OAUTHBEARER_SHUTDOWN_TIMEOUT is over;
    a request waiting on the upstream then has no verdict: the contract's 503."""
    waiting = asyncio.Event()

    async def answer(*_args: object, **_kwargs: object) -> tuple[int, list[Any], bytes]:
        waiting.set()
        await asyncio.Event().wait()  # the upstream never answers in time
        raise AssertionError("unreachable")

    async def no_app(*_args: object) -> None:
        raise AssertionError("the introspection path never reaches the app")

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"token=x", "more_body": False}

    fastpath = IntrospectionFastPath(no_app, answer=answer, paths={"/oauth2/introspect": False})
    scope = {"type": "http", "method": "POST", "path": "/oauth2/introspect", "headers": []}
    request = asyncio.create_task(fastpath(scope, receive, send))
    await waiting.wait()
    request.cancel()
    await request  # answered, not re-raised into uvicorn's "Exception in ASGI application"
    assert sent[0]["status"] == 503
    assert (b"retry-after", b"1") in sent[0]["headers"]
    assert sent[1]["body"] == b'{"error":"temporarily_unavailable"}'
