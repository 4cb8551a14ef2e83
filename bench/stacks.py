"""Server stacks compared on the same apps: uvicorn (httptools, uvloop) against granian.

    .venv/bin/pip install granian==2.8.7 && .venv/bin/python -m bench.stacks

One worker pinned to core 1, wrk on core 0 (as bench/run), the ceiling app and the sidecar
answering one cached opaque token. Prints one line per stack and app. granian is not a
dependency: this answers issue 5's "if another stack is faster, make it an option".
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench import load
from bench.procs import (
    LOAD_CORE,
    SERVER_CORE,
    START_TIMEOUT_S,
    VENV_BIN,
    Proc,
    pinned,
    uvicorn_server,
)
from tests.support.ports import free_port, wait_for_port

AUTH = "Basic YnJva2VyOmZha2U="  # broker:fake — the sidecar's test caller below


def _granian(app: str, port: int, env: dict[str, str]) -> Proc:
    argv = [str(VENV_BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", "1", "--loop", "uvloop"]
    argv += ["--log-level", "warning", "--no-ws", app]
    proc = Proc(pinned(SERVER_CORE, argv), {**os.environ, **env})
    wait_for_port(port, START_TIMEOUT_S)
    return proc


def main() -> int:
    if shutil.which(str(VENV_BIN / "granian")) is None:
        print("bench.stacks: granian is not installed (pip install granian==2.8.7)")
        return 1
    tokens = Path(tempfile.mkdtemp(prefix="oauthbearer-stacks-")) / "token.txt"
    tokens.write_text("opaque-stacks-comparison-token\n")
    upstream = Proc(
        pinned(LOAD_CORE, [sys.executable, "-m", "bench.fake_upstream", "--delay", "0"])
    )
    env = {
        "OAUTH_INTROSPECT_SERVER": f"127.0.0.1:{upstream.ready_line()}",
        "OAUTH_INTROSPECT_ENDPOINT": "/introspect",
        "OAUTH_WITH_SSL": "false",
        "OAUTHBEARER_CALLERS": "broker:fake",
        "OAUTHBEARER_LOG_LEVEL": "WARNING",
        "OAUTHBEARER_CACHE_TTL": "3600",
    }
    runs: list[tuple[str, Callable[[int], Proc]]] = [
        ("uvicorn ceiling", lambda port: uvicorn_server("bench.ceiling:app", port)),
        ("granian ceiling", lambda port: _granian("bench.ceiling:app", port, {})),
        ("uvicorn sidecar", lambda port: uvicorn_server("bench.sidecar_from_env:app", port, env)),
        ("granian sidecar", lambda port: _granian("bench.sidecar_from_env:app", port, env)),
    ]
    try:
        for name, start in runs:
            port = free_port()
            server = start(port)
            try:
                url = f"http://127.0.0.1:{port}/oauth2/introspect"
                load.wrk(url, tokens, auth=AUTH, seconds=1)  # warm-up, fills the cache
                result = load.wrk(url, tokens, auth=AUTH, seconds=8)
                print(f"{name}: {result.as_dict()}", flush=True)
            finally:
                server.stop()
    finally:
        upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
