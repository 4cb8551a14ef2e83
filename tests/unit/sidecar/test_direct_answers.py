"""Answers the HTTP protocol writes itself (direct.py), over a real uvicorn on loopback.

The ``served`` sidecar (tests/unit/sidecar/real_uvicorn.py) runs as ``oauthbearer serve``
runs it. Requests are written as raw bytes, so what is checked is what a broker's HTTP
client reads. The app is wrapped in a counter of ASGI calls: a request answered by the
protocol never reaches it.
"""

from __future__ import annotations

import asyncio
import re
import socket
from typing import Any

import pytest
import uvicorn
from joserfc.jwk import RSAKey
from uvicorn.server import ServerState

from oauthbearer.sidecar.cli import uvicorn_options
from oauthbearer.sidecar.direct import STATE_KEY, DirectAnswers
from oauthbearer.sidecar.http_protocol import CoalescingHttpToolsProtocol
from tests.support.transport import RecordingTransport
from tests.unit.sidecar.conftest import (
    CALLER_ID,
    NOW,
    basic,
    sign,
)
from tests.unit.sidecar.real_uvicorn import (
    AUTH,
    Served,
    read_response,
    request,
    serve,
    without_date,
)


async def test_the_protocol_answers_what_needs_no_io_with_the_asgi_paths_bytes(
    served: Served, rsa_key: RSAKey
) -> None:
    jwt = sign(rsa_key, {"jti": "direct"})
    cases = {
        "cold JWT": request(jwt),
        "the same JWT, cached": request(jwt),
        "milliseconds path": request(jwt, path="/oauth2/introspect/jairsjunior-ms"),
        "forged JWT": request(jwt[:-4] + "AAAA"),
        "wrong caller": request(jwt, authorization=basic(CALLER_ID, "fake-wrong")),
        "no caller": request(jwt, authorization=None),
        "wrong bearer": request(jwt, authorization="Bearer fake-unknown"),
        "no token": request("", extra=b"x-case: empty\r\n"),
    }
    direct = {name: await served.exchange(raw) for name, raw in cases.items()}
    assert served.asgi_calls == []  # none of them reached the ASGI app
    via_asgi = {}
    for name, raw in cases.items():
        asgi_raw = raw.replace(b" HTTP/1.1", b"?via=asgi HTTP/1.1", 1)
        via_asgi[name] = await served.exchange(asgi_raw)
    assert len(served.asgi_calls) == len(cases)
    for name in cases:
        assert without_date(direct[name][0]) == without_date(via_asgi[name][0]), name
    statuses = {name: response[0].split(b" ", 2)[1] for name, response in direct.items()}
    assert statuses == {
        "cold JWT": b"200",
        "the same JWT, cached": b"200",
        "milliseconds path": b"200",
        "forged JWT": b"200",
        "wrong caller": b"401",
        "no caller": b"401",
        "wrong bearer": b"401",
        "no token": b"400",
    }
    assert direct["cold JWT"][0].endswith(b"}")
    assert b'"active":true' in direct["cold JWT"][0]
    assert b'"exp":%d000' % (int(NOW) + 300) in direct["milliseconds path"][0]
    assert direct["forged JWT"][0].endswith(b'\r\n\r\n{"active":false}')
    assert re.search(rb"\r\ndate: ", direct["cold JWT"][0])  # uvicorn's own header kept
    assert b"www-authenticate: Bearer " in direct["wrong bearer"][0]


async def test_what_needs_io_goes_the_asgi_way_and_pipelined_answers_keep_their_order(
    served: Served, rsa_key: RSAKey
) -> None:
    served.upstream_gate.clear()  # the opaque token's upstream call waits
    reader, writer = await served.connect()
    try:
        # One write: an opaque token (upstream, so the ASGI way), then a JWT the protocol
        # could answer at once, then another opaque one.
        writer.write(request("opaque-1") + request(sign(rsa_key)) + request("opaque-2"))
        await asyncio.sleep(0.05)
        served.upstream_gate.set()
        answers = [await read_response(reader) for _ in range(3)]
    finally:
        writer.close()
    assert [b'"sub":"opaque-user"' in a for a in answers] == [True, False, True]
    assert b'"sub":"orders-service"' in answers[1]  # the JWT's answer, second as asked
    # The JWT, behind a response still being made, was answered by the app as well.
    assert served.asgi_calls == ["/oauth2/introspect?"] * 3


async def test_a_direct_answer_does_not_close_the_connection_under_the_request_behind_it(
    rsa_key: RSAKey,
) -> None:
    """A JWT answered at once, then an opaque token waiting on the upstream, in one read:
    the first answer started uvicorn's keep-alive timer, which only new data stopped, and
    it closed the connection (no answer at all) while the second request was in flight."""
    async with serve(rsa_key, keep_alive=0.1) as served:
        served.upstream_gate.clear()
        reader, writer = await served.connect()
        try:
            writer.write(request(sign(rsa_key)) + request("opaque-behind-a-direct-answer"))
            first = await read_response(reader)
            await asyncio.sleep(0.3)  # three keep-alive timeouts, the second still in flight
            served.upstream_gate.set()
            second = await read_response(reader)
        finally:
            writer.close()
    assert first.startswith(b"HTTP/1.1 200")
    assert b'"sub":"orders-service"' in first
    assert second.startswith(b"HTTP/1.1 200")
    assert b'"sub":"opaque-user"' in second


async def test_a_client_that_never_reads_its_answers_stops_being_read(served: Served) -> None:
    # Pipelined requests (no credentials needed: each is a 401), never reading a byte back.
    # Once the answers back up, the protocol stops reading the connection, as uvicorn does
    # for its own responses; the client's sends then block, and what the sidecar holds for
    # it stays bounded instead of growing with everything the client cares to send.
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(client, ("127.0.0.1", served.port))
    batch = request("x", authorization=None) * 2000
    offered, sent = 32_000_000, 0
    try:
        while sent < offered:
            await asyncio.wait_for(loop.sock_sendall(client, batch), 1.0)
            sent += len(batch)
    except TimeoutError:
        pass  # blocked: the sidecar stopped reading
    try:
        assert sent < offered / 2, f"the sidecar read all {sent} bytes of requests"
        assert served.held_bytes() < 2_000_000
        # Reading again, the client gets every answer: reading resumed with writing.
        expected = sent // len(request("x", authorization=None))
        status = b"HTTP/1.1 401 "
        answered, tail = 0, b""
        while answered < expected:
            chunk = await asyncio.wait_for(loop.sock_recv(client, 1 << 20), 5)
            assert chunk, f"closed after {answered} of {expected} answers"
            data = tail + chunk
            answered += data.count(status)
            tail = data[-(len(status) - 1) :]
    finally:
        client.close()


async def test_many_requests_share_one_kept_alive_connection(
    served: Served, rsa_key: RSAKey
) -> None:
    reader, writer = await served.connect()
    try:
        for i in range(20):
            writer.write(request(sign(rsa_key, {"jti": f"kept-{i}"})))
            answer = await read_response(reader)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert b"connection: close" not in answer
    finally:
        writer.close()
    assert served.asgi_calls == []


@pytest.mark.parametrize(
    ("extra", "version"),
    [(b"connection: close\r\n", b"1.1"), (b"", b"1.0")],
)
async def test_a_connection_not_kept_alive_is_closed_after_the_answer(
    served: Served, rsa_key: RSAKey, extra: bytes, version: bytes
) -> None:
    reader, writer = await served.connect()
    try:
        writer.write(request(sign(rsa_key), extra=extra, version=version))
        answer = await read_response(reader)
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
    finally:
        writer.close()
    assert b"\r\nconnection: close\r\n" in answer
    assert served.asgi_calls == []


async def test_expect_continue_chunked_and_oversized_bodies_take_the_asgi_way(
    served: Served, rsa_key: RSAKey
) -> None:
    token = sign(rsa_key)
    body = f"token={token}".encode()
    reader, writer = await served.connect()
    try:
        writer.write(request(token, extra=b"expect: 100-continue\r\n").split(b"\r\n\r\n")[0])
        writer.write(b"\r\n\r\n")
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert interim.startswith(b"HTTP/1.1 100 Continue")
        writer.write(body)
        continued = await read_response(reader)
        head = (
            b"POST /oauth2/introspect HTTP/1.1\r\nhost: sidecar\r\nauthorization: %s\r\n"
            % AUTH.encode()
        )
        writer.write(
            head + b"transfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        )
        chunked = await read_response(reader)
        writer.write(head + b"content-length: 100000\r\n\r\n")
        oversized = await read_response(reader)
    finally:
        writer.close()
    assert continued.startswith(b"HTTP/1.1 200 OK")
    assert b'"active":true' in continued
    assert chunked.startswith(b"HTTP/1.1 200 OK")
    assert b'"active":true' in chunked
    assert oversized.startswith(b"HTTP/1.1 413 ")
    assert len(served.asgi_calls) == 3


@pytest.mark.pure_python  # replaces a compiled function (oauthbearer/_compiled.py)
async def test_an_unexpected_error_is_a_500_without_a_trace_and_the_connection_lives(
    served: Served,
    rsa_key: RSAKey,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Something inside answer_now fails (the protocol holds answer_now itself).
    introspector = served.app.state.sidecar.introspector
    healthy = introspector.lookup

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom with a token-like eyJ detail")

    monkeypatch.setattr(introspector, "lookup", broken)
    reader, writer = await served.connect()
    try:
        writer.write(request(sign(rsa_key)))
        failed = await read_response(reader)
        monkeypatch.setattr(introspector, "lookup", healthy)
        writer.write(request(sign(rsa_key)))
        recovered = await read_response(reader)
    finally:
        writer.close()
    assert failed.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert failed.endswith(b'\r\n\r\n{"error":"server_error"}')
    assert recovered.startswith(b"HTTP/1.1 200 OK\r\n")
    assert "unexpected error: RuntimeError" in caplog.text
    assert "boom" not in caplog.text


async def test_pipelined_direct_answers_arm_no_timer_and_leave_the_connection_idle() -> None:
    # Answered inside one data_received, each answer ends with on_response_complete.
    # uvicorn's own arms a keep-alive timer there, each time (a timer left behind by an
    # earlier answer once closed a busy connection); ours marks the connection idle for
    # the sweep of stalled.py and arms nothing.
    protocol, sink = _protocol_with_direct_answers()
    loop = asyncio.get_running_loop()
    armed: list[asyncio.TimerHandle] = []

    class RecordingLoop:
        """The running loop, with every call_later recorded."""

        def call_later(self, delay: float, callback: Any, *args: Any) -> asyncio.TimerHandle:
            handle = loop.call_later(delay, callback, *args)
            armed.append(handle)
            return handle

        def __getattr__(self, name: str) -> Any:
            return getattr(loop, name)

    protocol.loop = RecordingLoop()  # type: ignore[assignment]
    protocol.data_received(request("t1") + request("t2") + request("t3"))
    await asyncio.sleep(0)
    try:
        assert len(sink.writes) == 1  # three answers, coalesced into one write
        assert sink.writes[0].count(b"HTTP/1.1 200 OK") == 3
        assert armed == []
        assert protocol.timeout_keep_alive_task is None
        assert protocol.idle_since is not None
        assert protocol.idle_since <= loop.time()
        protocol.data_received(request("t4")[:10])  # the next request begins
        assert protocol.idle_since is None
    finally:
        for handle in armed:
            handle.cancel()
        protocol.connection_lost(None)


def _protocol_with_direct_answers() -> tuple[CoalescingHttpToolsProtocol, RecordingTransport]:
    direct = DirectAnswers(
        answer_now=lambda auth, body, *, ms, client_cert=None: (200, [], b'{"active":false}'),
        paths={b"/oauth2/introspect": False},
        max_body_bytes=16384,
    )
    config = uvicorn.Config(lambda *args: None, log_config=None, **uvicorn_options())
    protocol = CoalescingHttpToolsProtocol(config, ServerState(), {STATE_KEY: direct})
    sink = RecordingTransport()
    protocol.connection_made(sink)
    return protocol, sink


async def test_a_shutdown_while_a_request_is_read_answers_it_then_closes() -> None:
    protocol, sink = _protocol_with_direct_answers()
    raw = request("being-read")
    protocol.data_received(raw[:-5])  # headers and most of the body
    protocol.shutdown()  # the server is stopping (SIGTERM)
    assert not sink.closing  # not dropped mid-request
    protocol.data_received(raw[-5:])
    await asyncio.sleep(0)
    assert len(sink.writes) == 1
    assert sink.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nconnection: close\r\n" in sink.writes[0]
    assert sink.closing
    protocol.connection_lost(None)


async def test_a_shutdown_between_requests_closes_at_once() -> None:
    protocol, sink = _protocol_with_direct_answers()
    protocol.data_received(request("answered"))
    await asyncio.sleep(0)
    assert not sink.closing  # kept alive after its answer
    protocol.shutdown()
    assert sink.closing
    protocol.connection_lost(None)


async def test_a_request_handed_on_to_the_asgi_way_is_one_cache_lookup(served: Served) -> None:
    # The protocol looks first; a cold opaque token then goes the ASGI way, which looks
    # again. Both lookups counted made every cold request two misses in the hit ratio,
    # against one in cache_lookups_total.
    for _ in range(2):  # cold (upstream), then cached
        (answer,) = await served.exchange(request("opaque-counted"))
        assert b'"active":true' in answer
    sidecar = served.app.state.sidecar
    assert (sidecar.cache.hits, sidecar.cache.misses) == (1, 1)
    metrics = sidecar.metrics.render()
    assert b"oauthbearer_sidecar_cache_hit_ratio 0.5" in metrics
    assert b'oauthbearer_sidecar_cache_lookups_total{outcome="miss"} 1.0' in metrics
