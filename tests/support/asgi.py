"""An ASGI app run in-process: its lifespan started, and an httpx client calling it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette


@contextlib.asynccontextmanager
async def asgi_client(
    app: Starlette, *, raise_app_exceptions: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and yield a client for it at ``http://sidecar``.

    ``raise_app_exceptions=False`` shows an app's unhandled error as the 500 a caller
    would see instead of re-raising it into the test.
    """
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
        async with httpx.AsyncClient(transport=transport, base_url="http://sidecar") as client:
            yield client
