"""The package as a user installs it: wheel and sdist built, the wheel installed in clean venvs.

Without extras the client half works and ``oauthbearer serve`` says in one line which extra
to install; with ``[sidecar,confluent]`` the sidecar starts and answers. Needs PyPI (the
dependencies are installed from it, as a user's would be).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SIDECAR_ENV = {
    "OAUTHBEARER_JWKS_URL": "https://idp.example/jwks",
    "OAUTHBEARER_CALLERS": "broker:fake-install-secret",
}
INSTALL_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    return out


def _venv(where: Path, requirement: str) -> Path:
    venv.create(where, with_pip=True)
    subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "-q", requirement],
        check=True,
        capture_output=True,
        timeout=INSTALL_TIMEOUT_S,
    )
    return where / "bin" / "oauthbearer"


def _run(command: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: nothing of this checkout's venv or settings leaks in.
    clean = {"PATH": os.environ["PATH"], **env}
    return subprocess.run(
        [str(command), *args], capture_output=True, text=True, env=clean, timeout=60, check=False
    )


def test_the_build_makes_a_wheel_and_an_sdist(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert any(n.endswith("-py3-none-any.whl") for n in names), names
    assert any(n.endswith(".tar.gz") for n in names), names


def test_without_extras_the_client_works_and_serve_names_its_extra(
    dist: Path, tmp_path: Path
) -> None:
    wheel = next(dist.glob("*.whl"))
    oauthbearer = _venv(tmp_path / "plain", str(wheel))
    version = _run(oauthbearer, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("oauthbearer ")
    check = _run(oauthbearer, "check", "--sidecar", **SIDECAR_ENV)
    assert check.returncode == 0, check.stderr
    assert "sidecar: listening on 127.0.0.1:8080" in check.stdout
    assert _run(oauthbearer, "serve", "--help").returncode == 0

    serve = _run(oauthbearer, "serve", **SIDECAR_ENV)
    assert serve.returncode == 2
    assert "Traceback" not in serve.stderr
    lines = serve.stderr.strip().splitlines()
    assert len(lines) == 1, serve.stderr
    assert "pip install 'oauthbearer[sidecar]'" in lines[0]


@pytest.fixture
def sidecar_venv(dist: Path, tmp_path: Path) -> Path:
    wheel = next(dist.glob("*.whl"))
    return _venv(tmp_path / "sidecar", f"{wheel}[sidecar,confluent]")


def test_with_the_sidecar_extra_serve_starts_and_answers(sidecar_venv: Path) -> None:
    assert _run(sidecar_venv, "serve", "--help").returncode == 0
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        **SIDECAR_ENV,
        "OAUTHBEARER_LISTEN": f"127.0.0.1:{port}",
        # An upstream instead of the JWKS: readiness needs no network.
        "OAUTHBEARER_JWKS_URL": "",
        "OAUTH_INTROSPECT_SERVER": "127.0.0.1:9",
        "OAUTH_INTROSPECT_ENDPOINT": "/introspect",
        "OAUTH_WITH_SSL": "false",
    }
    proc = subprocess.Popen(
        [str(sidecar_venv), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "serve exited"
                assert time.monotonic() < deadline, "serve did not answer in 30 s"
                time.sleep(0.1)  # polling start-up
        assert response.json() == {"status": "ok"}
        unauthenticated = httpx.post(
            f"http://127.0.0.1:{port}/oauth2/introspect", data={"token": "x"}, timeout=5
        )
        assert unauthenticated.status_code == 401
    finally:
        proc.terminate()
        proc.wait(15)
