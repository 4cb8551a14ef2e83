"""The sidecar as a module-level ASGI app built from the environment, for servers that
import an app by name (granian in bench/stacks.py); `oauthbearer serve` is the real entry."""

from __future__ import annotations

import os

from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings

app = create_app(SidecarSettings.from_env(os.environ))
