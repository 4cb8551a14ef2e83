"""The fake clock every unit test injects: epoch seconds that move only when told."""

from __future__ import annotations

import threading

__all__ = ["NOW", "FakeClock"]

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    """Epoch seconds that move only when told; ``sleep`` advances them and is recorded.

    It also keeps a monotonic reading (:meth:`monotonic`, for code that takes one): time
    passing (:meth:`advance`, :meth:`sleep`, assigning ``now``) moves both, while
    :meth:`step` moves the wall clock alone, as NTP or a resumed VM does.

    Thread-safe, because the client's single-flight tests advance it from many threads.
    """

    def __init__(self, now: float = NOW) -> None:
        self._now = now
        self._mono = 1_000.0  # arbitrary, like time.monotonic's origin
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    @property
    def now(self) -> float:
        return self._now

    @now.setter
    def now(self, value: float) -> None:
        """Jump to ``value`` as if the time in between had passed (both readings move)."""
        self.advance(value - self._now)

    def monotonic(self) -> float:
        """Seconds that only time passing moves: a clock :meth:`step` leaves them alone."""
        return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
            self._mono += seconds

    def step(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (either way) while no time passes."""
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
