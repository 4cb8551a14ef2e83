"""Start benchmark processes pinned to a core, wait for them (bounded), stop exactly them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.ports import wait_for_port

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_S = 20.0  # bound on a server under test starting to listen
SERVER_CORE = "1"  # the system under test
LOAD_CORE = "0"  # wrk, the herd client and helpers


def pinned(core: str, argv: Sequence[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if shutil.which("taskset") else list(argv)


class Proc:
    """One child process; ``stop()`` terminates it, then kills it after a bound."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ready_line(self, prefix: str = "READY ", timeout: float = 20.0) -> str:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{self.argv[0:4]} did not print {prefix!r}")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def uvicorn_server(app: str, port: int, env: Mapping[str, str] | None = None) -> Proc:
    # bench/serve.py: uvicorn with the settings of `oauthbearer serve` (uvicorn_options).
    argv = [sys.executable, "-m", "bench.serve", app, str(port)]
    proc = Proc(pinned(SERVER_CORE, argv), env)
    wait_for_port(port, START_TIMEOUT_S)
    return proc
