"""``oauthbearer serve`` as an operator runs it: a real uvicorn process, real IdP, SIGTERM.

Starts exactly one sidecar process per test and stops exactly that one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.idp import JWT_RESOURCE, Idp
from tests.support.ports import free_ports

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CALLER = ("broker", "fake-serve-secret")


@pytest.fixture
def served(idp: Idp, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], Path]]:
    port, metrics_port = free_ports(2)
    log = tmp_path / "sidecar.log"
    (tmp_path / "metrics-port").write_text(str(metrics_port))
    env = {
        **os.environ,
        # What Prometheus scrapes when the introspection listener is on loopback.
        "OAUTHBEARER_METRICS_LISTEN": f"127.0.0.1:{metrics_port}",
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_ISSUER": idp.issuer,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
        "OAUTHBEARER_CALLERS": f"{CALLER[0]}:{CALLER[1]}",
    }
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "oauthbearer.cli", "serve", "--listen", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sidecar did not become ready:\n{log.read_text()}")
            time.sleep(0.1)  # polling for start-up, not waiting for an expiry
        yield base, proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_serve_answers_both_sources_and_shuts_down_gracefully(
    idp: Idp, served: tuple[str, subprocess.Popen[str], Path]
) -> None:
    base, proc, log = served
    opaque = idp.fetch_token("opaque")["access_token"]
    jwt_token = idp.fetch_token("basic")["access_token"]
    with httpx.Client(base_url=base, auth=CALLER, timeout=5) as client:
        for token, sub in ((opaque, "kafka-opaque"), (jwt_token, "kafka-basic")):
            body = client.post("/oauth2/introspect", data={"token": token}).json()
            assert body["active"] is True
            assert body["sub"] == sub
        assert client.post("/oauth2/introspect", data={"token": "nope"}).json() == {"active": False}
        assert "oauthbearer_sidecar_requests_total" in client.get("/metrics").text
    metrics_base = f"http://127.0.0.1:{(log.parent / 'metrics-port').read_text()}"
    with httpx.Client(base_url=metrics_base, timeout=5) as scraper:
        scraped = scraper.get("/metrics").text  # no credentials: the metrics hold no secret
        assert 'oauthbearer_sidecar_requests_total{result="active",source="upstream"}' in scraped
        assert scraper.get("/healthz").json() == {"status": "ok"}
        # Nothing a caller's credentials guard is reachable there.
        assert scraper.post("/oauth2/introspect", data={"token": opaque}).status_code == 404
    proc.send_signal(signal.SIGTERM)
    # uvicorn finishes in-flight work, runs the lifespan shutdown, then re-raises the
    # signal it caught, so the conventional "terminated by SIGTERM" status is expected.
    assert proc.wait(15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete." in log.read_text()
    # The second listener stopped with the first: SIGTERM is the main server's alone.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{metrics_base}/healthz", timeout=2)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    decisions = [line for line in lines if line.get("message") == "decision"]
    assert {d["source"] for d in decisions} >= {"upstream", "jwks"}
    text = log.read_text()
    for secret in (opaque, jwt_token, CALLER[1], idp.authorization("introspector").split()[1]):
        assert secret not in text


def probe(check: str, listen: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``oauthbearer probe`` as an exec probe runs it: the container's environment only."""
    return subprocess.run(
        [sys.executable, "-m", "oauthbearer.cli", "probe", check],
        cwd=ROOT,
        env={**os.environ, "OAUTHBEARER_LISTEN": listen, **env},
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )


def test_probe_asks_the_sidecar_at_its_listen_address(
    served: tuple[str, subprocess.Popen[str], Path],
) -> None:
    base, proc, _log = served
    port = base.rpartition(":")[2]
    for check in ("healthz", "readyz"):
        # A wildcard listen address is asked on loopback, as inside a pod.
        for listen in (f"127.0.0.1:{port}", f"0.0.0.0:{port}"):
            answer = probe(check, listen)
            assert answer.returncode == 0, answer.stderr
    proc.kill()
    proc.wait(5)
    gone = probe("healthz", f"127.0.0.1:{port}")
    assert gone.returncode == 1
    assert f"http://127.0.0.1:{port}/healthz" in gone.stderr
    assert "Traceback" not in gone.stderr
