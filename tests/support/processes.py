"""Stopping the processes tests start (test infrastructure)."""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["terminate"]


def terminate(proc: subprocess.Popen[Any] | None, grace: float, timeout: float = 10.0) -> None:
    """SIGTERM ``proc`` if it still runs, SIGKILL it after ``grace`` seconds; reap it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
