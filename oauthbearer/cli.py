"""The ``oauthbearer`` command: ``token``, ``serve``, ``probe`` and ``check``.

Each half registers its own subcommands (``oauthbearer.client.cli``: ``token``;
``oauthbearer.sidecar.cli``: ``serve``) so the halves never import each other. ``check``
lives here because it judges both: it validates every half that the environment (or an
``--env-file``) configures, without any network I/O. Every
:class:`~oauthbearer.errors.OAuthBearerError` becomes one line on stderr and exit status
2 — never a stack trace.

Example:
    $ oauthbearer check
    client: client_credentials at https://idp.example/token (client_secret_basic)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from oauthbearer import __version__, _unknown
from oauthbearer.errors import ConfigurationError, OAuthBearerError

__all__ = ["main"]

_HALVES = ("oauthbearer.client.cli", "oauthbearer.sidecar.cli")

Handler = Callable[[argparse.Namespace], int]


class _Half(Protocol):
    def add_commands(
        self, subparsers: argparse._SubParsersAction[argparse.ArgumentParser]
    ) -> None: ...

    def describe(self, environ: Mapping[str, str]) -> str: ...


# Set in either half's block; alone it configures neither.
_SHARED_VARIABLES = frozenset({"OAUTH_WITH_SSL"})


def _variables_of(half: str) -> frozenset[str]:
    if half == "client":
        from oauthbearer.client.settings import CLIENT_VARIABLES

        return frozenset(CLIENT_VARIABLES) - _SHARED_VARIABLES
    from oauthbearer.sidecar.settings import FILE_VARIABLES, VARIABLES

    return frozenset({v.name for v in VARIABLES} | set(FILE_VARIABLES)) - _SHARED_VARIABLES


def unknown_variables(environ: Mapping[str, str], halves: Collection[str]) -> list[str]:
    """One warning per ``OAUTHBEARER_*`` variable that none of ``halves`` reads, with the
    name probably meant: a misspelt variable otherwise silently does nothing. A name of
    the other half is said to be that half's. Also one per jairsjunior setting that is set
    but deliberately not honoured.

    Example:
        >>> env = {"OAUTHBEARER_CACHE_TTTL": "5", "OAUTHBEARER_CACHE_TTL": "5"}
        >>> print(*unknown_variables(env, ["sidecar"]))  # doctest: +ELLIPSIS
        OAUTHBEARER_CACHE_TTTL is not a known ... (did you mean OAUTHBEARER_CACHE_TTL?)
    """
    names = {half: _variables_of(half) for half in ("client", "sidecar")}
    return [r.message for r in _unknown.unknown_variables(environ, runs=halves, names=names)]


def _halves_run(halves: Collection[str], environ: Mapping[str, str]) -> list[str]:
    """``halves``, with the client when the sidecar's events consumer logs in through our
    ``oauth_cb`` (configured by the client's variables of the same process)."""
    events_oauth = (environ.get("OAUTHBEARER_EVENTS_OAUTH") or "").strip().lower() == "true"
    if "sidecar" in halves and events_oauth and "client" not in halves:
        return [*halves, "client"]
    return list(halves)


#: The half each long-running command is, for the unknown-variable check at its start.
_COMMAND_HALVES = {"serve": ("sidecar",), "token": ("client",)}


def _warn_unknown(command: str) -> None:
    halves = _halves_run(_COMMAND_HALVES[command], os.environ)
    for warning in unknown_variables(os.environ, halves):
        print(f"oauthbearer {command}: WARNING: {warning}", file=sys.stderr)
    # Said here, judged against every half the command runs: the client library, reading
    # the same environment later, must not judge it again against its own half alone.
    _unknown.settle(os.environ)


def read_env_file(path: Path) -> dict[str, str]:
    r"""``NAME=VALUE`` lines of a dotenv-style file; blank lines and ``#`` comments skipped.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
        ...     _ = f.write("# comment\nOAUTH_WITH_SSL=false\nA='quoted value'\n")
        >>> read_env_file(Path(f.name))
        {'OAUTH_WITH_SSL': 'false', 'A': 'quoted value'}
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:  # missing, a directory, unreadable: exit 2, never a traceback
        raise ConfigurationError(
            "--env-file", f"cannot read {str(path)!r}: {exc.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError("--env-file", f"{str(path)!r} is not UTF-8 text") from None
    environ: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip().isidentifier():
            raise ConfigurationError(f"{path}:{number}", "expected NAME=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        environ[name.strip()] = value
    return environ


def _check(args: argparse.Namespace) -> int:
    environ: Mapping[str, str] = (
        read_env_file(Path(args.env_file)) if args.env_file else dict(os.environ)
    )
    halves = [h for h in ("client", "sidecar") if getattr(args, h)]
    if not halves:
        halves = [h for h in ("client", "sidecar") if any(environ.get(v) for v in _variables_of(h))]
    if not halves:
        raise ConfigurationError(
            "environment",
            "configures neither half: set OAUTH_LOGIN_* (client) or OAUTH_INTROSPECT_* / "
            "OAUTHBEARER_JWKS_URL (sidecar), or pass --client / --sidecar",
        )
    warnings = unknown_variables(environ, _halves_run(halves, environ))
    _unknown.settle(environ)  # describe() reads it with the library, which would repeat them
    for half in halves:
        module: _Half = importlib.import_module(f"oauthbearer.{half}.cli")
        print(module.describe(environ))
    for warning in warnings:
        print(f"WARNING: {warning}")
    return 0


def _add_check(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser(
        "check",
        help="validate the configuration of the client and/or the sidecar (no network)",
        description="Validate every half the environment configures and summarise it "
        "without secrets. Exit status 2 names the first variable at fault.",
    )
    check.add_argument("--client", action="store_true", help="check the client half")
    check.add_argument("--sidecar", action="store_true", help="check the sidecar half")
    check.add_argument("--env-file", metavar="PATH", help="read NAME=VALUE lines from PATH instead")
    check.set_defaults(handler=_check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="oauthbearer",
        description="SASL/OAUTHBEARER for Kafka: token provider and introspection sidecar.",
    )
    parser.add_argument("--version", action="version", version=f"oauthbearer {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _HALVES:
        half: _Half = importlib.import_module(name)
        half.add_commands(subparsers)
    _add_check(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["probe"]:
        # Container health checks run this every few seconds: the standard library only,
        # not both halves' modules (a tenth of the start-up time).
        from oauthbearer.sidecar.probe_command import main as probe

        return probe(arguments[1:])
    parser = build_parser()
    args = parser.parse_args(arguments)
    handler: Handler = args.handler
    if args.command in _COMMAND_HALVES:
        # At start-up, before anything else is said: the value was probably meant.
        _warn_unknown(args.command)
    try:
        return handler(args)
    except OAuthBearerError as exc:
        print(f"oauthbearer {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
