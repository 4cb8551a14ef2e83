"""``oauthbearer serve`` as an operator runs it, one process per replica (test infrastructure).

Each :class:`SidecarProcess` owns exactly the process it started, on a port of its own
that survives a restart (a replica keeps its address when its pod restarts), logging to
its own file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.ports import free_port
from tests.support.processes import terminate

__all__ = ["SidecarProcess"]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class SidecarProcess:
    """One sidecar replica: start, wait until ready, ask it, stop, restart."""

    def __init__(self, name: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self._env = {**os.environ, **env}
        self.log_path = log_dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def start(self) -> SidecarProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oauthbearer.cli",
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
            ],
            cwd=ROOT,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The running process (None once stopped)."""
        return self._proc

    def wait_listening(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Until the port accepts connections (bounded): for an HTTPS listener, whose
        ``/readyz`` this plain-HTTP client cannot ask; fails with the log."""
        deadline = time.monotonic() + timeout
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name} not listening in {timeout} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)  # polling for start-up

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> float:
        """Seconds from now until ``/readyz`` answers 200 (bounded); fails with the log."""
        started = time.monotonic()
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if self.client.get("/readyz").status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{self.name} not ready in {timeout} s:\n{self.log_tail()}")
            time.sleep(0.05)  # polling for start-up, not waiting for an expiry

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it does not end in time."""
        proc, self._proc = self._proc, None
        terminate(proc, STOP_TIMEOUT_S, STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        self.stop()
        self.client.close()

    def introspect(self, token: str, authorization: tuple[str, str]) -> dict[str, Any]:
        response = self.client.post("/oauth2/introspect", data={"token": token}, auth=authorization)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def metric(self, line_start: str) -> float:
        """The value of the first ``/metrics`` sample line starting with ``line_start``."""
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""
