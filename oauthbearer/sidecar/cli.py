"""The sidecar's subcommands ``oauthbearer serve`` and ``probe``, and :func:`describe`.

``serve`` reads its configuration from the environment (every variable is listed in its
``--help``), runs uvicorn with graceful shutdown (in-flight requests get
``OAUTHBEARER_SHUTDOWN_TIMEOUT`` seconds after SIGTERM) and logs JSON lines on stderr.
:func:`describe` summarises a configuration without revealing secrets, for
``oauthbearer check``.

Example:
    $ OAUTHBEARER_JWKS_URL=https://idp.example/jwks OAUTHBEARER_CALLERS=broker:… \\
      oauthbearer serve --listen 0.0.0.0:8080
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import textwrap
from collections.abc import Mapping
from typing import Any

from oauthbearer import _compiled
from oauthbearer._secret import display_url
from oauthbearer.errors import MissingExtra
from oauthbearer.sidecar.probe_command import DESCRIPTION as PROBE_DESCRIPTION
from oauthbearer.sidecar.probe_command import add_arguments as add_probe_arguments
from oauthbearer.sidecar.probe_command import run as run_probe
from oauthbearer.sidecar.settings import VARIABLES, SidecarSettings, parse_credentials
from oauthbearer.sidecar.warnings import start_up_warnings

__all__ = ["add_commands", "describe"]


def _environment_help() -> str:
    lines = ["environment variables (every one the sidecar reads):", ""]
    for var in VARIABLES:
        default = f" [default: {var.default}]" if var.default else ""
        lines.append(f"  {var.name}{default}")
        lines.extend(
            textwrap.wrap(var.help, 76, initial_indent="      ", subsequent_indent="      ")
        )
    lines += [
        "",
        "Variables marked (+_FILE) can be read from a file instead: NAME_FILE=/path.",
        "Set OAUTHBEARER_JWKS_URL and/or OAUTH_INTROSPECT_SERVER + OAUTH_INTROSPECT_ENDPOINT.",
        "OAUTHBEARER_CACHE_TTL is the worst-case delay before a revoked token is refused.",
    ]
    return "\n".join(lines)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve`` on the ``oauthbearer`` command (``check`` is in oauthbearer.cli)."""
    serve = subparsers.add_parser(
        "serve",
        help="run the RFC 7662 introspection sidecar for Kafka brokers",
        description=(
            "Serve RFC 7662 token introspection (POST /oauth2/introspect) to Kafka "
            "brokers' OAUTHBEARER validator plugins, verifying JWTs locally against a "
            "JWKS and/or delegating to an upstream introspection endpoint, with a cache. "
            "Also: POST /oauth2/introspect/jairsjunior-ms (exp/iat in milliseconds for "
            "jairsjunior on Kafka >= 3.3), GET /healthz, /readyz, /metrics, /openapi.json."
        ),
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="address to listen on (overrides OAUTHBEARER_LISTEN; default 127.0.0.1:8080)",
    )
    serve.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="log level (overrides OAUTHBEARER_LOG_LEVEL; default INFO)",
    )
    serve.set_defaults(handler=_serve)
    probe = subparsers.add_parser(
        "probe",
        help="ask the local sidecar's /healthz or /readyz (container health checks)",
        description=PROBE_DESCRIPTION,
    )
    add_probe_arguments(probe)
    probe.set_defaults(handler=lambda args: run_probe(args.check, args.timeout, os.environ))


def _environ(args: argparse.Namespace) -> dict[str, str]:
    environ = dict(os.environ)
    if getattr(args, "listen", None):
        environ["OAUTHBEARER_LISTEN"] = args.listen
    if getattr(args, "log_level", None):
        environ["OAUTHBEARER_LOG_LEVEL"] = args.log_level
    return environ


def describe(environ: Mapping[str, str] | None = None, *, warnings: bool = True) -> str:
    """A human summary of the sidecar configuration; raises ``ConfigurationError``.

    Never shows a secret: callers are listed by id, the upstream Authorization header
    only as set/unset. ``warnings``: end with the start-up warnings (``serve`` logs
    those as WARNING records of their own).

    Example:
        >>> print(describe({"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks",
        ...                 "OAUTHBEARER_CALLERS": "broker:not-a-real-secret"}))
        ... # doctest: +ELLIPSIS
        sidecar: listening on 127.0.0.1:8080
          jwks: https://idp.example/jwks (algorithms RS256,PS256,ES256; ...)
        ...
    """
    s = SidecarSettings.from_env(environ)
    lines = [f"sidecar: listening on {s.listen_host}:{s.listen_port}"]
    if s.jwks_url:
        lines.append(
            f"  jwks: {display_url(s.jwks_url)} (algorithms {','.join(s.algorithms)}; "
            f"issuer {s.issuer or 'not checked'}; "
            f"audience {','.join(s.audiences) or 'not checked'}; "
            f"typ {s.jwt_typ or 'not checked'}; skew {s.clock_skew:g} s)"
        )
    if s.upstream_url:
        auth = "set" if s.upstream_authorization is not None else "none"
        lines.append(
            f"  upstream: {display_url(s.upstream_url)} (Authorization {auth}; timeout "
            f"{s.upstream_timeout:g} s; at most {s.upstream_max_concurrency} concurrent)"
        )
    basic = (
        sorted(parse_credentials("OAUTHBEARER_CALLERS", s.callers.reveal())) if s.callers else []
    )
    bearer = (
        sorted(
            parse_credentials("OAUTHBEARER_CALLER_BEARER_TOKENS", s.caller_bearer_tokens.reveal())
        )
        if s.caller_bearer_tokens
        else []
    )
    lines.append(
        f"  callers: Basic {', '.join(basic) or 'none'}; Bearer {', '.join(bearer) or 'none'}; "
        f"anonymous {'ALLOWED' if s.allow_anonymous else 'refused'}"
    )
    negative = (
        f"{s.negative_cache_ttl:g} s, {s.negative_cache_max_entries} entries"
        if s.negative_cache_ttl > 0
        else "off"
    )
    lines.append(
        f"  cache: active results up to {s.cache_ttl:g} s (worst-case revocation delay), "
        f"{s.cache_max_entries} entries; inactive {negative}"
    )
    rules = s.claim_rules
    sub_from = [",".join(rules.principal)]
    if rules.fallback:
        sub_from.append(f"{rules.fallback_prefix}<{rules.fallback}>")
    if rules.subject_fallbacks:
        sub_from.append(",".join(rules.subject_fallbacks))
    lines.append(
        f"  requests: token parameter {','.join(s.token_params)}; sub from "
        f"{', then '.join(sub_from)}; "
        f"groups {rules.groups or 'not answered'}; scope from {','.join(rules.scopes)}; "
        f"body limit {s.max_body_bytes} bytes"
    )
    event_callers = (
        sorted(parse_credentials("OAUTHBEARER_EVENT_CALLERS", s.event_callers.reveal()))
        if s.event_callers
        else []
    )
    topics = (
        f"topics {', '.join(s.kafka_topics)} at {s.events_bootstrap_servers} "
        f"({s.events_security_protocol}"
        + (f", {s.events_sasl_mechanism}" if s.events_security_protocol.startswith("SASL_") else "")
        + ")"
        if s.events_bootstrap_servers
        else "no topic"
    )
    webhooks = ", ".join(
        event_callers
        + (["the Keycloak emitter (any user name)"] if s.keycloak_emitter_secret else [])
    )
    lines.append(
        f"  revocation: webhooks {'for ' + webhooks if webhooks else 'off'}; "
        f"{topics}; kept {s.revocation_max_token_lifetime:g} s, "
        f"{s.revocation_max_entries} entries; principal claim {s.revocation_principal_claim}"
    )
    if s.revocations_topic:
        lines.append(
            f"  replicas: webhook revocations are shared through {s.revocations_topic} "
            f"(answered once Kafka acknowledged them, else 503 after "
            f"{s.revocations_publish_timeout:g} s) and replayed on start"
        )
    if warnings:
        lines += [f"  WARNING: {warning}" for warning in start_up_warnings(s)]
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    # Imported here so `oauthbearer token` never pays for (or needs) the server stack.
    try:
        import uvicorn

        from oauthbearer.sidecar.app import create_app
        from oauthbearer.sidecar.logs import configure_logging
    except ImportError as exc:
        # One line naming the extra, not a traceback (main() prints OAuthBearerErrors).
        raise MissingExtra("sidecar", exc.name) from None

    settings = SidecarSettings.from_env(_environ(args))
    # A taken or wrong address is one line naming the variable now: uvicorn logged its
    # own error after "startup complete" and exited without naming OAUTHBEARER_LISTEN.
    # (Bound again for real just after; `check` does not bind: it may run beside a
    # sidecar that holds the port.)
    from oauthbearer.sidecar.metrics_listener import check_address

    check_address(settings.listen_host, settings.listen_port, "OAUTHBEARER_LISTEN")
    if settings.metrics_listen is not None:
        check_address(*settings.metrics_listen)
    configure_logging(settings.log_level)
    # One JSON record like every other line on stderr (a log shipper parsing JSON lines
    # rejected the plain-text summary); `oauthbearer check` prints the same summary as text.
    summary = describe(_environ(args), warnings=False).splitlines()
    logger = logging.getLogger("oauthbearer.sidecar")
    fields = {"summary": [s.strip() for s in summary], "build": _compiled.build()}
    logger.info("configuration", extra={"fields": fields})
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.listen_host,
        port=settings.listen_port,
        lifespan="on",
        log_config=None,
        # uvicorn takes whole seconds: 0.9 must not become 0 (no grace at all).
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),
        **uvicorn_options(),
    )
    tls = app.state.sidecar.tls
    if tls is not None:
        # Our SSLContext rather than uvicorn's file options: the app reloads renewed
        # certificates into this very context (oauthbearer/sidecar/tls.py).
        config.load()
        config.ssl = tls.context
    uvicorn.Server(config).run()
    return 0


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings of ``oauthbearer serve`` beyond address, lifespan and logging.

    Shared with the test bed and the benchmark, so that what they measure is what runs.

    Example:
        >>> uvicorn_options()["proxy_headers"]
        False
    """
    return {
        "access_log": False,  # every decision is logged by the sidecar itself
        "server_header": False,
        # Brokers call us directly: no proxy in front whose X-Forwarded-* to trust, and
        # one ASGI layer less on every request.
        "proxy_headers": False,
        "http": _http_protocol(),
    }


def _http_protocol() -> type[asyncio.Protocol] | str:
    """uvicorn's httptools protocol with one write per response, when httptools is there."""
    try:
        from oauthbearer.sidecar.http_protocol import CoalescingHttpToolsProtocol
    except ImportError:  # httptools missing: uvicorn's pure-Python h11 protocol
        return "auto"
    return CoalescingHttpToolsProtocol
