"""How a request may arrive (stalled.py): a head's size and the time it takes, on a real
uvicorn (tests/unit/sidecar/real_uvicorn.py) spoken to in raw bytes.

Time is never waited for: the sweep is called with a clock moved past the timeout.
"""

from __future__ import annotations

import asyncio

import pytest
from joserfc.jwk import RSAKey

from oauthbearer.sidecar import stalled
from oauthbearer.sidecar.stalled import (
    MAX_HEAD_BYTES,
    REQUEST_READ_TIMEOUT_S,
    close_idle,
    close_stalled,
)
from tests.unit.sidecar.conftest import sign
from tests.unit.sidecar.real_uvicorn import AUTH, Served, read_response, request, serve


async def closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server still sends, up to its closing the connection."""
    return await asyncio.wait_for(reader.read(), 5)


async def test_a_request_head_over_the_limit_is_refused_with_431_and_closed(
    served: Served, rsa_key: RSAKey
) -> None:
    reader, writer = await served.connect()
    head = b"POST /oauth2/introspect HTTP/1.1\r\nhost: sidecar\r\nx-padding: "
    # One byte over the limit, and nothing after it: the server has read all of it when
    # it refuses, so closing does not reset the connection before the answer is read.
    writer.write(head + b"a" * (MAX_HEAD_BYTES + 1 - len(head)))
    await writer.drain()
    answer = await closed(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"connection: close" in answer
    assert served.asgi_calls == []
    # A head of ordinary size is answered as ever, on a new connection.
    (ok,) = await served.exchange(request(sign(rsa_key)))
    assert ok.startswith(b"HTTP/1.1 200 ")


async def test_a_request_that_stops_arriving_is_closed_with_408(served: Served) -> None:
    loop = asyncio.get_running_loop()
    assert served.server is not None
    connections = served.server.server_state.connections
    # Half a request (the body promised, a tenth sent), a connection that sent nothing,
    # and one kept alive between two requests.
    half_reader, half_writer = await served.connect()
    half_writer.write(request("x" * 90)[:-80])
    silent_reader, silent_writer = await served.connect()
    idle_reader, idle_writer = await served.connect()
    idle_writer.write(request("x", authorization=None))
    assert (await read_response(idle_reader)).startswith(b"HTTP/1.1 401 ")
    await asyncio.sleep(0.05)  # let the server read what was sent (not a timeout wait)

    assert close_stalled(list(connections), loop.time(), REQUEST_READ_TIMEOUT_S) == 0
    later = loop.time() + REQUEST_READ_TIMEOUT_S + 1
    assert close_stalled(list(connections), later, REQUEST_READ_TIMEOUT_S) == 2
    for reader in (half_reader, silent_reader):
        answer = await closed(reader)
        assert answer.startswith(b"HTTP/1.1 408 "), answer
    # The kept-alive connection is uvicorn's keep-alive timeout's business, not this one's.
    idle_writer.write(request("x", authorization=None))
    assert (await read_response(idle_reader)).startswith(b"HTTP/1.1 401 ")
    for writer in (half_writer, silent_writer, idle_writer):
        writer.close()


async def test_a_connection_idle_past_its_keep_alive_is_closed_by_the_sweep(
    served: Served,
) -> None:
    loop = asyncio.get_running_loop()
    assert served.server is not None
    connections = served.server.server_state.connections
    idle_reader, idle_writer = await served.connect()
    idle_writer.write(request("x", authorization=None))
    assert (await read_response(idle_reader)).startswith(b"HTTP/1.1 401 ")
    busy_reader, busy_writer = await served.connect()
    rest = request("y", authorization=None)
    busy_writer.write(rest[:20])  # a request being read is not idle, however long it takes
    await asyncio.sleep(0.05)  # let the server read what was sent (not a timeout wait)

    keep_alive = served.server.config.timeout_keep_alive
    assert close_idle(list(connections), loop.time() + keep_alive - 1) == 0
    assert close_idle(list(connections), loop.time() + keep_alive + 1) == 1
    assert await closed(idle_reader) == b""  # closed without a word, as uvicorn's timer did
    busy_writer.write(rest[20:])
    assert (await read_response(busy_reader)).startswith(b"HTTP/1.1 401 ")
    for writer in (idle_writer, busy_writer):
        writer.close()


async def test_the_server_sweeps_for_as_long_as_it_has_connections(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sweep the protocol schedules, made immediate and with every connection overdue:
    # one that sends nothing is closed by it, and with no connection left it stops.
    monkeypatch.setattr(stalled, "SWEEP_INTERVAL_S", 0.0)
    monkeypatch.setattr(stalled, "REQUEST_READ_TIMEOUT_S", -1.0)
    assert served.server is not None
    state = served.server.server_state
    reader, writer = await served.connect()
    answer = await closed(reader)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408 ")
    for _ in range(100):
        if state not in stalled._sweeps:
            break
        await asyncio.sleep(0)  # a turn of the loop, for the last sweep to run
    assert state not in stalled._sweeps  # no connection left: no timer left


async def test_the_sweep_closes_idle_connections(
    rsa_key: RSAKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every loop turn a sweep, and no keep-alive at all: an answered connection is closed
    # by the sweep (no timer is armed per response any more), a new one is not yet idle.
    monkeypatch.setattr(stalled, "SWEEP_INTERVAL_S", 0.0)
    async with serve(rsa_key, keep_alive=0.0) as served:
        reader, writer = await served.connect()
        writer.write(request("x", authorization=None))
        assert (await read_response(reader)).startswith(b"HTTP/1.1 401 ")
        assert await closed(reader) == b""
        writer.close()


async def test_bytes_that_start_no_request_leave_an_idle_connection_idle(served: Served) -> None:
    # A stray CRLF between requests, and the rest of a body the app already refused (413
    # on its declared length): neither begins a request, so the connection stays idle and
    # is closed by the sweep, instead of looking busy and never being closed.
    assert served.server is not None
    loop = asyncio.get_running_loop()
    connections = served.server.server_state.connections
    crlf_reader, crlf_writer = await served.connect()
    crlf_writer.write(request("x", authorization=None))
    assert (await read_response(crlf_reader)).startswith(b"HTTP/1.1 401 ")
    crlf_writer.write(b"\r\n")
    body_reader, body_writer = await served.connect()
    declared = 20_000
    body_writer.write(
        b"POST /oauth2/introspect HTTP/1.1\r\nhost: sidecar\r\nauthorization: "
        + AUTH.encode()
        + b"\r\ncontent-type: application/x-www-form-urlencoded\r\n"
        + b"content-length: %d\r\n\r\n" % declared
    )
    assert (await read_response(body_reader)).startswith(b"HTTP/1.1 413 ")  # by the app
    body_writer.write(b"t" * declared)
    await body_writer.drain()
    await asyncio.sleep(0.1)  # let the server read what was sent (not a timeout wait)

    keep_alive = served.server.config.timeout_keep_alive
    assert close_idle(list(connections), loop.time() + keep_alive + 1) == 2
    for reader in (crlf_reader, body_reader):
        assert await closed(reader) == b""
    for writer in (crlf_writer, body_writer):
        writer.close()
