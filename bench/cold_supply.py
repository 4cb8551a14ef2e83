"""Token files for the cold rounds, each large enough for the rate the machine runs at.

A cold round is valid only while every request carries a token the sidecar has never
seen: wrk cycles through its file, so a round that uses up its supply turns into cache
hits. How many tokens a round needs depends on the machine: 30,000 were twice enough for
a 2 s round at 8,800 req/s (2026-12-02 10:08 UTC) and ran out in the same hour's later
session, when the machine was fast enough for 25,000 req/s (13:23 UTC, 50,964 requests).
So a round that overran is thrown away with its pair (its figure would be part hits), the
supply is sized for the rate just seen with headroom, and the pair runs again; a run that
keeps overrunning stops as invalid.

Example:
    >>> from pathlib import Path
    >>> signed = []
    >>> supply = ColdSupply(lambda n, name: signed.append((n, name)) or Path(name), 100)
    >>> supply.for_round(0)
    (PosixPath('cold-0-100'), 100)
    >>> supply.overran(150)  # the round made 150 requests: the next supply has 225
    >>> supply.for_round(0), signed
    ((PosixPath('cold-0-225'), 225), [(100, 'cold-0-100'), (225, 'cold-0-225')])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

__all__ = ["ColdSupply", "Overran"]

#: ``sign(count, name)``: a file of ``count`` signed tokens no other file holds.
Signer = Callable[[int, str], Path]


class Overran(Exception):
    """A cold round made more requests than it had distinct tokens."""

    def __init__(self, requests: int, tokens: int) -> None:
        super().__init__(f"{requests} requests for {tokens} distinct tokens")
        self.requests = requests


class ColdSupply:
    """One token file per cold round, re-signed larger after a round overran.

    ``headroom``: the new supply is this many times the requests of the round that
    overran. That count is already high (after the supply ran out the rest were cache
    hits, which are faster), so the margin covers a machine that speeds up further.
    ``max_resizes``: overruns allowed in a run before it is invalid.
    """

    def __init__(
        self, sign: Signer, per_round: int, *, headroom: float = 1.5, max_resizes: int = 2
    ) -> None:
        self._sign = sign
        self.per_round = per_round
        self._headroom = headroom
        self._max_resizes = max_resizes
        self.resizes = 0
        self._files: dict[int, tuple[Path, int]] = {}

    def for_round(self, index: int) -> tuple[Path, int]:
        """Round ``index``'s token file and its size, signed now if it has none that fits."""
        held = self._files.get(index)
        if held is None or held[1] < self.per_round:
            # The size is in the name, so a re-signed file's tokens (jti) are new ones.
            name = f"cold-{index}-{self.per_round}"
            held = (self._sign(self.per_round, name), self.per_round)
            self._files[index] = held
        return held

    def overran(self, requests: int) -> None:
        """A round made ``requests`` and ran out: size every later supply for that rate.

        Raises:
            RuntimeError: after ``max_resizes`` overruns (the caller's run is invalid).
        """
        self.resizes += 1
        if self.resizes > self._max_resizes:
            raise RuntimeError(
                f"cold rounds still ran out of tokens after {self._max_resizes} resizes"
                f" ({requests} requests for {self.per_round} distinct tokens)"
            )
        self.per_round = max(self.per_round, math.ceil(requests * self._headroom))
