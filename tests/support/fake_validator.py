"""A stub introspection endpoint for testing the SASL front itself (test infrastructure).

NOT the sidecar and not a model of it: it answers ``active: true`` with the claims
registered for a token and ``{"active": false}`` for anything else, and records every
request exactly as received (header names, order and values, raw body) so tests can check
what the front sent in each peer's shape. Tests of the real stack use the sidecar
(``oauthbearer.sidecar``) instead. Fixture: ``fake_validator``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import pytest

__all__ = ["FakeValidator", "RecordedRequest"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class FakeValidator:
    """Loopback HTTP server; ``tokens`` maps a token to the claims of an active answer."""

    def __init__(self) -> None:
        self.tokens: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.status: int = 200  # set to e.g. 503 to make every answer fail
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/introspect"

    def start(self) -> FakeValidator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def answer(self, body: bytes) -> tuple[int, dict[str, Any]]:
        value = body.decode("utf-8", errors="replace").removeprefix("token=")
        # jairsjunior sends the token raw, Strimzi percent-encodes it: accept both.
        claims = self.tokens.get(value) or self.tokens.get(unquote(value))
        return self.status, ({"active": True, **claims} if claims else {"active": False})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake._lock:
                    fake.requests.append(
                        RecordedRequest("POST", self.path, list(self.headers.items()), body)
                    )
                status, answer = fake.answer(body)
                raw = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # keep pytest output clean

        return Handler


@pytest.fixture
def fake_validator() -> Iterator[FakeValidator]:
    """A stub endpoint for tests of the SASL front; register tokens in ``.tokens``."""
    server = FakeValidator().start()
    try:
        yield server
    finally:
        server.stop()
