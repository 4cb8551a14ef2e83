"""The sidecar's operational routes: ``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``.

``/readyz`` names its checks — the JWKS loaded, the upstream's last call not failed, the
revocation topics replayed — so an operator sees which one holds a pod back.

Example:
    >>> from oauthbearer.sidecar.instance import Sidecar
    >>> from oauthbearer.sidecar.settings import SidecarSettings
    >>> settings = SidecarSettings(jwks_url="https://idp.example/jwks", allow_anonymous=True)
    >>> Probes(Sidecar(settings)).readiness()  # not ready until the JWKS is fetched
    {'jwks': False}
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from oauthbearer.errors import UpstreamUnavailable
from oauthbearer.sidecar.metrics import CONTENT_TYPE
from oauthbearer.sidecar.openapi import introspection_security, openapi_document

if TYPE_CHECKING:
    from oauthbearer.sidecar.instance import Sidecar

__all__ = ["Probes"]

# Introspected by /readyz only while the upstream is failing; any answer proves it is up.
_PROBE_TOKEN = "oauthbearer-readiness-probe"  # noqa: S105 - a known-inactive dummy


class Probes:
    """Route handlers reading one :class:`~oauthbearer.sidecar.instance.Sidecar`'s state."""

    def __init__(self, sidecar: Sidecar) -> None:
        # The sidecar itself, not its parts: the upstream client is bound in its lifespan.
        self._sidecar = sidecar
        #: The revocation routes the app serves (set by create_app): /openapi.json lists them.
        self.event_paths: tuple[str, ...] = ()

    async def healthz(self, _request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def readiness(self) -> dict[str, bool]:
        """Named checks behind ``/readyz``: JWKS loaded with a key, upstream's last call succeeded,
        revocation topics replayed (each only when configured)."""
        sidecar = self._sidecar
        settings = sidecar.settings
        checks: dict[str, bool] = {}
        if sidecar.jwks is not None:
            # Loaded and holding a key: a key set of {"keys": []} verifies no JWT at all.
            checks["jwks"] = sidecar.jwks.loaded and bool(sidecar.jwks.keys_for(None))
        if settings.upstream_url is not None:
            upstream = sidecar.upstream
            checks["upstream"] = upstream is not None and upstream.last_ok is True
        if settings.events_bootstrap_servers is not None:
            checks["revocation_events"] = sidecar.revocations.replayed
        return checks

    async def readyz(self, _request: Request) -> Response:
        upstream = self._sidecar.upstream
        if upstream is not None and upstream.last_ok is not True:
            # Probe while the upstream has not been reached (at start, before any broker
            # asked) or its last call failed: an unready pod gets no traffic, so without
            # this it could never observe the upstream recover, and "ready" must not mean
            # "never tried".
            with contextlib.suppress(UpstreamUnavailable):
                await upstream.introspect(_PROBE_TOKEN)
        checks = self.readiness()
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def metrics(self, _request: Request) -> Response:
        return Response(self._sidecar.metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(self, _request: Request) -> Response:
        settings = self._sidecar.settings
        security = introspection_security(
            basic=settings.callers is not None,
            bearer=settings.caller_bearer_tokens is not None,
            anonymous=settings.allow_anonymous,
            mutual_tls=settings.tls_client_ca_file is not None,
        )
        return JSONResponse(
            openapi_document(events=self.event_paths, introspection_security=security)
        )
