"""A process forked after its clients were built (gunicorn --preload, multiprocessing's
fork start method, Celery's prefork pool) gets tokens of its own."""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings

TIMEOUT_S = 20


def _in_child(work: Callable[[], object]) -> object:
    """``work()``'s result (or its error's text) in a forked child process."""
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe()

    def run() -> None:
        try:
            child_end.send(work())
        except Exception as exc:  # noqa: BLE001 - reported to the parent as text
            child_end.send(f"{type(exc).__name__}: {exc}")

    process = context.Process(target=run)
    process.start()
    assert parent_end.poll(TIMEOUT_S), "the child did not answer"
    result = parent_end.recv()
    process.join(TIMEOUT_S)
    return result


def test_a_fetch_in_flight_at_the_fork_does_not_hold_the_child_up() -> None:
    # The child inherited "fetching" from the parent's fetch, whose thread it does not
    # have: every call waited for it and gave up, for the life of the process.
    entered, release = threading.Event(), threading.Event()
    calls = []

    def idp(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:  # the parent's fetch: held until the fork is done
            entered.set()
            release.wait(TIMEOUT_S)
        return httpx.Response(200, json={"access_token": f"t{len(calls)}", "expires_in": 300})

    settings = ClientSettings(token_url="https://idp.example/token", deadline=3.0)
    provider = TokenProvider(
        settings, http_client=httpx.Client(transport=httpx.MockTransport(idp)), cache=TokenCache()
    )
    fetching = threading.Thread(target=provider.token)
    fetching.start()
    assert entered.wait(TIMEOUT_S)
    try:
        child = _in_child(lambda: provider.token().access_token)
    finally:
        release.set()
        fetching.join(TIMEOUT_S)
    assert child == "t2"  # fetched by the child itself
    assert provider.token().access_token == "t1"  # the parent's own fetch ended as usual


class _Idp(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the client pools its connection
    seen: list[int]  # the client's port, per request

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append(self.client_address[1])
        body = json.dumps({"access_token": f"t{len(self.seen)}", "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def idp() -> Iterator[tuple[str, list[int]]]:
    seen: list[int] = []
    handler = type("Idp", (_Idp,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/token", seen
    server.shutdown()
    server.server_close()


def test_a_forked_child_does_not_share_the_parent_s_pooled_connection(
    idp: tuple[str, list[int]],
) -> None:
    # On one keep-alive socket the processes read each other's answers (a child saw "a
    # body that is not JSON"); over TLS the connection's state would be corrupted.
    url, ports = idp
    cache = TokenCache()
    provider = TokenProvider(ClientSettings(token_url=url), cache=cache)
    try:
        assert provider.prefetch().access_token == "t1"

        def refresh_in_child() -> str:
            cache.clear()
            return provider.token().access_token

        assert _in_child(refresh_in_child) == "t2"
        assert len(ports) == 2
        assert ports[1] != ports[0]  # the child opened a connection of its own
        cache.clear()
        assert provider.token().access_token == "t3"
        assert ports[2] == ports[0]  # the parent's is still the parent's, and still works
    finally:
        provider.close()
