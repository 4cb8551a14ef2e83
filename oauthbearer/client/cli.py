"""``oauthbearer token`` and ``oauthbearer check`` (the client half's subcommands).

``token`` fetches with the current environment and prints JSON: ``expires_at`` (epoch
seconds), ``principal``, ``scope`` and a fingerprint — the token itself only with
``--show-token``. ``check`` validates the configuration without network I/O; an error
becomes exit status 2 with a message naming the variable (see ``oauthbearer.cli``).

Example:
    $ OAUTH_LOGIN_SERVER=idp.example OAUTH_LOGIN_ENDPOINT=/token \\
      OAUTH_AUTHORIZATION="Basic ..." oauthbearer check
    client: client_credentials at https://idp.example/token (authorization_header)
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping

from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings

__all__ = ["add_commands", "describe"]


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``token`` on the top-level parser (``check`` lives in oauthbearer.cli)."""
    token = subparsers.add_parser(
        "token",
        help="fetch a token with the current environment and describe it as JSON",
        description="Fetch a token with the OAUTH_LOGIN_* / OAUTHBEARER_LOGIN_* environment.",
    )
    token.add_argument("--show-token", action="store_true", help="include the access token itself")
    token.set_defaults(handler=_token_command)


def describe(environ: Mapping[str, str]) -> str:
    """One line describing the client configuration; raises ConfigurationError if invalid.

    Example:
        >>> describe({"OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp.example/token",
        ...           "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka",
        ...           "OAUTHBEARER_LOGIN_CLIENT_SECRET": "s3cr3t"})
        'client: client_credentials at https://idp.example/token (client_secret_basic)'
    """
    s = ClientSettings.from_env(environ)
    where = f"at {s.token_url}" if s.token_url else f"via discovery from {s.issuer}"
    line = f"client: {s.grant_type} {where} ({s.auth_method})"
    details = []
    if s.scope:
        details.append(f"scope={s.scope}")
    if s.audience:
        details.append(f"audience={s.audience}")
    if s.resources:
        details.append(f"resource={','.join(s.resources)}")
    if s.sasl_extensions:
        details.append("extensions=" + ",".join(k for k, _ in s.sasl_extensions))
    return line + (", " + ", ".join(details) if details else "")


def _token_command(args: argparse.Namespace) -> int:
    # A private cache: the command reports what the endpoint answers now.
    with TokenProvider.from_env(os.environ, cache=TokenCache()) as provider:
        token = provider.token()
        report: dict[str, object] = {
            "expires_at": round(token.expires_at, 3),
            "expires_in": round(token.expires_at - time.time(), 1),
            "principal": provider.principal(token),
            "scope": token.scope,
            "fingerprint": token.fingerprint,
            "jwt": bool(token.claims),
            "endpoint_host": provider.endpoint_host,
            "extensions": provider.extensions(),
        }
        if args.show_token:
            report["access_token"] = token.access_token
    print(json.dumps(report, indent=2))
    return 0
