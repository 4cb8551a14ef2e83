"""Build hook: ``OAUTHBEARER_COMPILE=1`` compiles the request path with mypyc.

Everything else about the package is in pyproject.toml. Without the variable the wheel
is pure Python. With it, the build needs mypy (which ships mypyc) and a C compiler, and
the wheel is for this platform and Python version only; deploy/Dockerfile builds that
way (oauthbearer/_compiled.py says why, and which modules).

    OAUTHBEARER_COMPILE=1 pip wheel --no-build-isolation --no-deps -w dist .
"""

from __future__ import annotations

import os
import runpy

from setuptools import setup

_COMPILE = os.environ.get("OAUTHBEARER_COMPILE", "0")
if _COMPILE not in ("0", "1"):
    raise SystemExit(f"OAUTHBEARER_COMPILE must be 0 or 1, not {_COMPILE!r}")

ext_modules = []
if _COMPILE == "1":
    from mypyc.build import mypycify  # ImportError: install mypy to compile

    # Read, not imported: the package's __init__ imports its dependencies.
    modules = runpy.run_path(os.path.join("oauthbearer", "_compiled.py"))["MODULES"]
    ext_modules = mypycify(
        [name.replace(".", "/") + ".py" for name in modules],
        opt_level="3",
        # One shared library of the runtime and the modules' code, named for us rather
        # than by a hash.
        group_name="oauthbearer",
    )

setup(ext_modules=ext_modules)
