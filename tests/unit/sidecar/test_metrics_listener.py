"""OAUTHBEARER_METRICS_LISTEN: /metrics and /healthz on a second, plain-HTTP listener.

A sidecar beside a broker listens on loopback, which Prometheus (scraping the pod's IP)
never reaches; the second listener serves the metrics there and nothing else.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx
import pytest
import respx
from joserfc.jwk import RSAKey

from tests.support.ports import free_port
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    NOW,
    UPSTREAM_URL,
    FakeClock,
    jwks_of,
    make_settings,
    running,
)

OPAQUE = "opaque-token-for-metrics"
UPSTREAM_ACTIVE = {"active": True, "sub": "orders", "exp": int(NOW) + 300}


async def test_the_second_listener_serves_metrics_and_health_only_while_the_app_runs(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    port = free_port()
    settings = replace(make_settings(), metrics_listen=("127.0.0.1", port))
    base = f"http://127.0.0.1:{port}"
    async with running(settings, router, clock) as h:
        assert (await h.introspect(OPAQUE)).json()["active"] is True
        async with httpx.AsyncClient(base_url=base, timeout=5) as scraper:
            metrics = await scraper.get("/metrics")
            assert metrics.status_code == 200
            assert metrics.headers["content-type"].startswith("text/plain")
            assert 'requests_total{result="active",source="upstream"} 1.0' in metrics.text
            assert (await scraper.get("/healthz")).json() == {"status": "ok"}
            # Nothing a caller's credentials guard is served there.
            for path in ("/oauth2/introspect", "/revocations", "/readyz"):
                assert (await scraper.post(path, data={"token": OPAQUE})).status_code in (
                    404,
                    405,
                )
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz", timeout=2)


async def test_the_second_listener_bounds_a_request_head_as_the_main_one_does(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    """Open to the network without credentials, it once read a 200 MiB head to the end."""
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    port = free_port()
    settings = replace(make_settings(), metrics_listen=("127.0.0.1", port))
    async with running(settings, router, clock):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"GET /metrics HTTP/1.1\r\nhost: x\r\nx-filler: " + b"a" * (600 * 1024))
            status = await asyncio.wait_for(reader.readline(), 5)
        finally:
            writer.close()
    assert status.startswith(b"HTTP/1.1 431")
