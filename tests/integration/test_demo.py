"""README command one, run as a user runs it (minus the install step, done by the suite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "invalid_token" in out
    assert "consumed all 5" in out
    assert "All steps passed" in out
