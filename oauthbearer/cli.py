"""The ``oauthbearer`` command: ``token``, ``check`` and ``serve``.

Each half registers its own subcommands (``oauthbearer.client.cli``,
``oauthbearer.sidecar.cli``) so that this module stays a dispatcher and the halves never
import each other. Every :class:`~oauthbearer.errors.OAuthBearerError` becomes one line on
stderr and exit status 2 — never a stack trace.

Example:
    $ oauthbearer check
    client: client_credentials at https://idp.example/token (client_secret_basic)
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from oauthbearer import __version__
from oauthbearer.errors import OAuthBearerError

__all__ = ["main"]

_HALVES = ("oauthbearer.client.cli", "oauthbearer.sidecar.cli")

Handler = Callable[[argparse.Namespace], int]


class _Half(Protocol):
    def add_commands(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None: ...


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oauthbearer",
        description="SASL/OAUTHBEARER for Kafka: token provider and introspection sidecar.",
    )
    parser.add_argument("--version", action="version", version=f"oauthbearer {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _HALVES:
        try:
            half: _Half = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("oauthbearer"):
                continue  # that half is not built yet
            raise
        half.add_commands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except OAuthBearerError as exc:
        print(f"oauthbearer {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
