"""README command one, run as a user runs it (minus the install step, done by the suite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.realkafka import bundle_path

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_demo_tells_the_whole_story_and_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,  # the bound for the demo
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "token fetched for kafka-basic (JWT)" in out
    assert "sidecar decided active for kafka-basic, source jwks" in out
    assert "sidecar decided active for kafka-basic, source cache" in out
    assert "sidecar decided active for kafka-opaque, source upstream" in out
    assert "sidecar decided inactive, source upstream" in out
    # Kafka's and the front's refusal say invalid_token (RFC 7628); Strimzi's, its reason.
    assert "invalid_token" in out or "Token validation failed: Token not active" in out
    if bundle_path() is not None:
        assert "Broker: Apache Kafka with Strimzi's introspection validator" in out
    else:
        assert "Broker: tansu behind a SASL/OAUTHBEARER front" in out
    # librdkafka's own log lines stay out of the story (they go to a file).
    assert "%3|" not in result.stdout + result.stderr
    assert "GroupCoordinator" not in result.stdout + result.stderr
    assert "consumed all 5" in out
    assert "All steps passed" in out
