"""The build's compiled modules (oauthbearer/_compiled.py): which run, and that they exist.

The suite runs twice in CI: on the source (scripts/check) and on the compiled wheel
(scripts/check-compiled, ``OAUTHBEARER_TEST_COMPILED=1``). Each run must be testing what
it says: an extension module left in the source tree by an in-place build would be
imported instead of the ``.py`` beside it, and the source run would test stale code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oauthbearer import _compiled

ROOT = Path(__file__).resolve().parents[2]


def test_each_run_loads_the_build_it_claims_to_test() -> None:
    if os.environ.get("OAUTHBEARER_TEST_COMPILED") == "1":
        assert _compiled.compiled() == _compiled.MODULES
    else:
        assert _compiled.compiled() == ()


def test_the_listed_modules_are_in_the_package() -> None:
    package = Path(_compiled.__file__).resolve().parent
    for name in _compiled.MODULES:
        stem = package.joinpath(*name.split(".")[1:])
        assert [p for p in stem.parent.glob(stem.name + ".*") if p.suffix in (".py", ".so")], name


def test_a_wrong_compile_switch_stops_the_build_naming_it() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "setup.py"), "--name"],
        cwd=ROOT,
        env={**os.environ, "OAUTHBEARER_COMPILE": "yes"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "OAUTHBEARER_COMPILE must be 0 or 1, not 'yes'" in result.stderr
