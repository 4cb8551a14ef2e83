"""The sidecar's one HTTP client, for the upstream introspection endpoint and the JWKS.

Example:
    >>> from oauthbearer.sidecar.settings import SidecarSettings
    >>> client = upstream_client(SidecarSettings(jwks_url="https://idp.example/jwks"))
    >>> client.follow_redirects
    False
"""

from __future__ import annotations

import ssl

import httpx

from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.verify.transport import async_transport, proxies_in_environment

__all__ = ["upstream_client"]


def upstream_client(settings: SidecarSettings) -> httpx.AsyncClient:
    """The HTTP client for the upstream introspection endpoint and the JWKS."""
    # As many kept alive as may be open: httpcore 1.0 closes an idle connection whenever
    # the pool holds more than max_keepalive_connections in total (busy ones included), so
    # a smaller keep-alive bound turns a busy pool into a connect/close cycle per call.
    pool_size = settings.upstream_max_concurrency + 4  # + the JWKS fetches
    limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
    tls = _tls_context(settings.ca_file)
    # Never follow redirects: a 3xx from the IdP is an error to report, and following it
    # could send our Authorization header elsewhere.
    if proxies_in_environment():
        # Only httpx's default transport honours HTTP(S)_PROXY and NO_PROXY.
        return httpx.AsyncClient(
            timeout=settings.upstream_timeout, limits=limits, verify=tls, follow_redirects=False
        )
    # httpcore on plain asyncio streams: see oauthbearer/verify/transport.py.
    return httpx.AsyncClient(
        timeout=settings.upstream_timeout,
        transport=async_transport(limits=limits, verify=tls),
        follow_redirects=False,
    )


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file)
