"""A deliberately slow RFC 7662 upstream, plus a JWKS endpoint, for the benchmark.

Every introspection answers ``active: true`` after ``--delay`` seconds and is counted, so
the harness can report how many upstream calls the sidecar made. ``GET /jwks`` serves the
public key the harness signs its JWTs with; ``GET /count`` returns the call count.
Raw asyncio, HTTP/1.1 keep-alive: it must not be the bottleneck it measures.

Run: ``python -m bench.fake_upstream --delay 0.02 --jwks FILE`` → prints ``READY <port>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

_calls = 0


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float, jwks: bytes
) -> None:
    global _calls
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            if method == "POST":
                _calls += 1
                await asyncio.sleep(delay)
                now = int(time.time())
                body = json.dumps(
                    {
                        "active": True,
                        "sub": "bench-client",
                        "client_id": "bench-client",
                        "scope": "kafka",
                        "exp": now + 3600,
                        "iat": now,
                        "iss": "bench",
                    }
                ).encode()
            elif path == "/jwks":
                body = jwks
            else:
                body = json.dumps({"calls": _calls}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _main(delay: float, jwks_file: str | None) -> None:
    jwks = open(jwks_file, "rb").read() if jwks_file else b'{"keys":[]}'  # noqa: SIM115
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, delay, jwks), "127.0.0.1", 0, backlog=4096
    )
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--jwks")
    args = parser.parse_args()
    asyncio.run(_main(args.delay, args.jwks))
