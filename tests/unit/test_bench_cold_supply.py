"""bench/cold_supply.py: a cold round never runs on fewer tokens than the machine needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cold_supply import ColdSupply


class _Signer:
    def __init__(self) -> None:
        self.signed: list[tuple[int, str]] = []

    def __call__(self, count: int, name: str) -> Path:
        self.signed.append((count, name))
        return Path(name)


def test_a_round_keeps_its_file_while_it_is_large_enough() -> None:
    signer = _Signer()
    supply = ColdSupply(signer, 100)
    assert supply.for_round(0) == supply.for_round(0) == (Path("cold-0-100"), 100)
    assert supply.for_round(1) == (Path("cold-1-100"), 100)
    assert signer.signed == [(100, "cold-0-100"), (100, "cold-1-100")]


def test_an_overrun_resizes_every_round_and_renames_the_tokens() -> None:
    # The run of 2026-12-02 13:23 UTC: 50,964 requests in a 2 s round of 30,000 tokens.
    signer = _Signer()
    supply = ColdSupply(signer, 30_000)
    supply.for_round(0)
    supply.for_round(1)
    supply.overran(50_964)
    assert supply.per_round == 76_446
    assert supply.for_round(1) == (Path("cold-1-76446"), 76_446)
    assert supply.for_round(0)[1] == 76_446  # a file signed before is too small now
    # New names: a file's name goes into its tokens' jti, so none repeats an old token.
    assert len({name for _, name in signer.signed}) == len(signer.signed) == 4
    assert supply.resizes == 1


def test_an_overrun_never_shrinks_the_supply() -> None:
    supply = ColdSupply(_Signer(), 1_000)
    supply.overran(200)
    assert supply.per_round == 1_000


def test_a_run_that_keeps_overrunning_is_refused() -> None:
    supply = ColdSupply(_Signer(), 100, max_resizes=2)
    supply.overran(150)
    supply.overran(300)
    with pytest.raises(RuntimeError, match="still ran out of tokens after 2 resizes"):
        supply.overran(600)
