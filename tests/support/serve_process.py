"""``oauthbearer serve`` of this checkout as a child process, for tests (test infrastructure).

A process of its own keeps a sidecar's log lines and state apart from the test process's
(in-process sidecars share the ``oauthbearer.sidecar.decision`` logger).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from tests.support.processes import terminate

__all__ = ["START_TIMEOUT_S", "start_serve", "stop_serve"]

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0


def start_serve(env: Mapping[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start ``oauthbearer serve`` on ``port`` with ``env`` added to this process's
    environment, its output in ``log``; returns once it accepts connections."""
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "oauthbearer.cli", "serve"],
            cwd=ROOT,
            env={**os.environ, **env, "OAUTHBEARER_LISTEN": f"127.0.0.1:{port}"},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop_serve(proc)
                raise RuntimeError(f"oauthbearer serve did not start:\n{log.read_text()}") from None
            time.sleep(0.05)  # polling start-up


def stop_serve(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful shutdown), then SIGKILL after a bound."""
    terminate(proc, 10)
