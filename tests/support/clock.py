"""The fake clock every unit test injects: epoch seconds that move only when told."""

from __future__ import annotations

import threading

__all__ = ["NOW", "FakeClock"]

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    """Epoch seconds that move only when told; ``sleep`` advances them and is recorded.

    Thread-safe, because the client's single-flight tests advance it from many threads.
    """

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
