"""A second, plain-HTTP listener for ``/metrics`` and ``/healthz`` only.

Why it exists: the sidecar beside a broker listens on loopback (only the broker in the
same pod may introspect), and a loopback listener cannot be reached from the pod's IP,
which is where Prometheus scrapes. ``OAUTHBEARER_METRICS_LISTEN`` opens this listener
on an address of its own: it serves nothing a caller's credentials guard (no token, no
revocation route), and the metrics carry no secret (closed label sets, see
:mod:`oauthbearer.sidecar.metrics`).

It is a second uvicorn server on the same event loop, started and stopped by the app's
lifespan. The main server owns the process's signals: this one must not take SIGTERM
from it (uvicorn restores handlers in order, and the last server to install them would
be the only one told to stop).

Example:
    >>> app = metrics_app(lambda: b"up 1\\n")
    >>> [route.path for route in app.routes]
    ['/metrics', '/healthz']
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.metrics import CONTENT_TYPE

__all__ = ["check_address", "metrics_app", "metrics_listener"]

logger = logging.getLogger("oauthbearer.sidecar")

#: The variable whose address this is (named in every error).
VARIABLE = "OAUTHBEARER_METRICS_LISTEN"


def metrics_app(render: Callable[[], bytes]) -> Starlette:
    """The listener's two routes: Prometheus text, and liveness."""

    async def metrics(_request: Request) -> Response:
        return Response(render(), media_type=CONTENT_TYPE)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


class _SignalFreeServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signals to the main server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _bound_socket(host: str, port: int, variable: str = VARIABLE) -> socket.socket:
    """The listening socket, bound now: a taken or wrong address is a configuration
    error naming the variable (uvicorn would log it and exit the process from a task)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:  # UnicodeError: a label IDNA refuses
        raise ConfigurationError(variable, f"cannot listen on {host}:{port}: {exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            variable, f"cannot listen on {host}:{port}: {exc.strerror}"
        ) from None
    return sock


def check_address(host: str, port: int, variable: str = VARIABLE) -> None:
    """:class:`ConfigurationError` naming ``variable`` if ``host:port`` cannot be
    listened on (``OAUTHBEARER_METRICS_LISTEN`` unless told otherwise)."""
    _bound_socket(host, port, variable).close()


@contextlib.asynccontextmanager
async def metrics_listener(host: str, port: int, render: Callable[[], bytes]) -> AsyncIterator[int]:
    """Serve ``/metrics`` and ``/healthz`` on ``host:port`` while the context is open.

    Yields the port listened on (the one asked for, or the one the system chose for 0).
    """
    sock = _bound_socket(host, port)
    # The main listener's HTTP protocol: its bounds (a head over 512 KiB gets 431, a
    # stalled or silent connection 408) hold here too, on an address open to the network.
    from oauthbearer.sidecar.cli import uvicorn_options

    config = uvicorn.Config(
        metrics_app(render),
        lifespan="off",
        log_config=None,
        timeout_graceful_shutdown=1,
        limit_concurrency=64,
        **uvicorn_options(),
    )
    server = _SignalFreeServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    # Listening before the app says it has started: a scrape right after start-up is
    # answered, not refused.
    while not server.started and not task.done():
        await asyncio.sleep(0.005)
    bound = sock.getsockname()[1]
    logger.info("metrics listener on http://%s:%d (/metrics, /healthz)", host, bound)
    try:
        yield bound
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        sock.close()
