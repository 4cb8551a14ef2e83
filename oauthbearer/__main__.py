"""``python -m oauthbearer``: the ``oauthbearer`` command (see :mod:`oauthbearer.cli`)."""

from __future__ import annotations

import sys

from oauthbearer.cli import main

if __name__ == "__main__":
    sys.exit(main())
