"""Serve an ASGI app, named by import path, with the server settings of `oauthbearer serve`.

``python -m bench.serve bench.ceiling:app 8081`` — the ceiling (and the sidecar built from
the environment in bench/stacks.py) then run on exactly the stack the sidecar runs on:
:func:`oauthbearer.sidecar.cli.uvicorn_options`, so the two differ only by the app.
"""

from __future__ import annotations

import sys

import uvicorn

from oauthbearer.sidecar.cli import uvicorn_options


def main(argv: list[str]) -> None:
    app, port = argv
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        log_level="warning",
        backlog=4096,
        **uvicorn_options(),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
