"""The public surface: explicit names, no I/O or environment reading on import, no sidecar."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import oauthbearer
from oauthbearer.client.confluent import make_oauth_cb, oauth_cb
from oauthbearer.client.provider import TokenProvider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import ConfigurationError, TokenEndpointError

CLIENT_DIR = Path(oauthbearer.__file__).parent / "client"


def test_public_names_resolve_to_the_client_objects() -> None:
    assert oauthbearer.oauth_cb is oauth_cb
    assert oauthbearer.make_oauth_cb is make_oauth_cb
    assert oauthbearer.TokenProvider is TokenProvider
    assert oauthbearer.ClientSettings is ClientSettings
    assert oauthbearer.ConfigurationError is ConfigurationError
    assert oauthbearer.TokenEndpointError is TokenEndpointError
    for name in oauthbearer.__all__:
        assert getattr(oauthbearer, name) is not None
    assert set(oauthbearer.__all__) <= set(dir(oauthbearer))


def test_import_reads_no_environment_and_loads_no_client_module() -> None:
    # A broken client environment must not break `import oauthbearer` (e.g. in the sidecar).
    script = (
        "import sys, json, oauthbearer\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('oauthbearer.client'))\n"
        "from oauthbearer import oauth_cb\n"
        "try:\n"
        "    oauth_cb(None)\n"
        "except oauthbearer.ConfigurationError as exc:\n"
        "    print(json.dumps({'loaded': loaded, 'variable': exc.variable}))\n"
    )
    env = {**os.environ, "OAUTH_WITH_SSL": "perhaps", "OAUTH_LOGIN_SERVER": "idp.example"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["loaded"] == []
    assert report["variable"] == "OAUTH_WITH_SSL"  # read on the first call, not on import


def test_client_never_imports_the_sidecar() -> None:
    for path in CLIENT_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith("oauthbearer.sidecar"), f"{path} imports {name}"
