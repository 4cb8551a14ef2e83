"""The secret scan plugin itself: it fails a session that leaks, passes a clean one, and
cannot pass without having seen anything. Each case is a small pytest run in a subprocess.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LEAKY = """
import logging
from joserfc import jwt
from joserfc.jwk import OctKey

def test_a_token_in_a_quiet_logger():
    token = jwt.encode({"alg": "HS256"}, {"sub": "x"}, OctKey.import_key("k" * 32))
    quiet = logging.getLogger("somewhere.deep")
    quiet.propagate = False  # hiding from the root handlers does not hide from the scan
    logging.getLogger().handlers[:] = []  # nor does replacing them
    quiet.debug("sending %s", token)
"""

LEAKY_ERROR = """
from oauthbearer.errors import ConfigurationError

def test_a_secret_in_an_error_message():
    error = ConfigurationError("OAUTHBEARER_CALLERS", "bad entry fake-post-secret")
    assert error.variable == "OAUTHBEARER_CALLERS"
"""

LEAKY_METRICS = """
from tests.support.secret_scan import register
from oauthbearer.sidecar.metrics import Metrics

def test_a_registered_token_in_metrics():
    register("opaque-token-registered-by-a-test")
    metrics = Metrics()
    metrics.request("opaque-token-registered-by-a-test", "cache")
    assert metrics.render()
"""

CLEAN = """
import logging

def test_logs_without_secrets():
    logging.getLogger("oauthbearer.sidecar").info("decision for %s", "sha256:0123abcd")
"""


def _run(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_case.py").write_text(source)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.support.secret_scan",
            "-p",
            "no:cacheprovider",
            "-q",
            "test_case.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_leaks_in_logs_errors_and_metrics_fail_the_session(tmp_path: Path) -> None:
    result = _run(tmp_path, LEAKY + LEAKY_ERROR + LEAKY_METRICS)
    assert "3 passed" in result.stdout  # the tests themselves passed...
    assert result.returncode == 1  # ...and the session failed, naming each leak's origin
    out = result.stdout
    assert "SECRET LEAKED: a JWT signed in the test process found in log somewhere.deep" in out
    assert "SECRET LEAKED: a fake secret of the suite found in error ConfigurationError" in out
    assert "SECRET LEAKED: registered by a test found in metrics" in out
    assert "eyJ" not in out.split("secret scan", 1)[1]  # a hit is never printed


def test_a_clean_session_passes_and_says_what_it_scanned(tmp_path: Path) -> None:
    result = _run(tmp_path, CLEAN)
    assert result.returncode == 0, result.stdout
    assert "no secret or token found in logs, metrics or errors" in result.stdout
    assert "SELF-CHECK FAILED" not in result.stdout
