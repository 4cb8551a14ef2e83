"""Sidecar settings from environment variables: every name the sidecar reads, checked.

A bad value fails start-up with a :class:`~oauthbearer.errors.ConfigurationError` naming
the variable (files are opened and TLS contexts built now, not at the first request).

Example:
    >>> s = settings_from_env({"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks",
    ...                        "OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS": "true"})
    >>> s.jwks_url, s.allow_anonymous
    ('https://idp.example/jwks', True)
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from oauthbearer._env import Env, header_value, split_url
from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.claim_settings import claim_rules
from oauthbearer.sidecar.credentials import parse_credentials
from oauthbearer.sidecar.revocation_settings import revocation_settings
from oauthbearer.sidecar.settings import ALLOWED_ALGORITHMS, SidecarSettings
from oauthbearer.sidecar.tls import server_context

__all__ = ["settings_from_env"]

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")


def settings_from_env(environ: Mapping[str, str] | None = None) -> SidecarSettings:
    """Read and validate every variable in :data:`~oauthbearer.sidecar.variables.VARIABLES`.

    Raises :class:`~oauthbearer.errors.ConfigurationError` naming the first bad
    variable. Neither an upstream nor a JWKS URL, or no callers without an explicit
    ``OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS=true``, are start-up errors.
    """
    env = Env(environ)
    # One source for each default: the field's, so explicit construction and the
    # environment cannot drift apart.
    default: dict[str, Any] = {f.name: f.default for f in fields(SidecarSettings)}

    server = env.host_port("OAUTH_INTROSPECT_SERVER")
    endpoint = env.path("OAUTH_INTROSPECT_ENDPOINT")
    upstream_url: str | None = None
    if server and not endpoint:
        raise ConfigurationError(
            "OAUTH_INTROSPECT_ENDPOINT", "is required when OAUTH_INTROSPECT_SERVER is set"
        )
    if endpoint and not server:
        raise ConfigurationError(
            "OAUTH_INTROSPECT_SERVER", "is required when OAUTH_INTROSPECT_ENDPOINT is set"
        )
    # Judged whether or not an upstream is set: env.example says other values are refused.
    with_ssl = env.flag("OAUTH_WITH_SSL", default=True)
    if server and endpoint:
        upstream_url = f"{'https' if with_ssl else 'http'}://{server}{endpoint}"
        split_url("OAUTH_INTROSPECT_SERVER", upstream_url)
    authorization = env.secret("OAUTH_INTROSPECT_AUTHORIZATION")
    if authorization is not None:
        header_value("OAUTH_INTROSPECT_AUTHORIZATION", authorization.reveal())

    jwks_url = env.url("OAUTHBEARER_JWKS_URL")
    if jwks_url is None:
        # They judge JWTs verified against the JWKS only: without one, set and never
        # enforced on the upstream's answers, they promised checks nobody made.
        for variable in ("OAUTHBEARER_ISSUER", "OAUTHBEARER_AUDIENCE", "OAUTHBEARER_JWT_TYP"):
            if env.text(variable) is not None:
                raise ConfigurationError(
                    variable,
                    "applies to JWTs verified against OAUTHBEARER_JWKS_URL, which is not set "
                    "(the upstream's answers are its own judgement)",
                )
    if upstream_url is None and authorization is not None:
        raise ConfigurationError(
            "OAUTH_INTROSPECT_AUTHORIZATION",
            "is set but no upstream is (OAUTH_INTROSPECT_SERVER + OAUTH_INTROSPECT_ENDPOINT)",
        )
    if upstream_url is None and jwks_url is None:
        raise ConfigurationError(
            "OAUTHBEARER_JWKS_URL",
            "the sidecar needs a way to verify tokens: set OAUTHBEARER_JWKS_URL (local "
            "JWT verification) and/or OAUTH_INTROSPECT_SERVER + OAUTH_INTROSPECT_ENDPOINT "
            "(upstream RFC 7662 introspection)",
        )

    algorithms = tuple(env.csv("OAUTHBEARER_JWT_ALGORITHMS")) or _DEFAULT_ALGORITHMS
    for alg in algorithms:
        if alg not in ALLOWED_ALGORITHMS:
            raise ConfigurationError(
                "OAUTHBEARER_JWT_ALGORITHMS",
                f"{alg!r} is not allowed; choose from {', '.join(sorted(ALLOWED_ALGORITHMS))}"
                " (none and HMAC are refused: a JWKS holds public keys)",
            )

    host, port = _listen(env.text("OAUTHBEARER_LISTEN", "127.0.0.1:8080") or "")

    tls_cert, tls_key, tls_client_ca = _tls(env)
    callers = env.secret("OAUTHBEARER_CALLERS")
    if callers is not None:
        parse_credentials("OAUTHBEARER_CALLERS", callers.reveal())
    bearer = env.secret("OAUTHBEARER_CALLER_BEARER_TOKENS")
    if bearer is not None:
        parse_credentials("OAUTHBEARER_CALLER_BEARER_TOKENS", bearer.reveal())
    anonymous = env.flag("OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS", default=False)
    if callers is None and bearer is None and not anonymous and not tls_client_ca:
        raise ConfigurationError(
            "OAUTHBEARER_CALLERS",
            "no callers configured: RFC 7662 §2.1 requires the introspection endpoint "
            "to authenticate its callers, otherwise it is a token-scanning oracle. Set "
            "OAUTHBEARER_CALLERS=id:secret (the brokers' credentials) or "
            "OAUTHBEARER_TLS_CLIENT_CA_FILE (their client certificates), or set "
            "OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS=true explicitly",
        )

    token_params = tuple(env.csv("OAUTHBEARER_TOKEN_PARAMS")) or ("token",)
    for name in token_params:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigurationError(
                "OAUTHBEARER_TOKEN_PARAMS", f"{name!r} is not a plain parameter name"
            )
    log_level = (env.text("OAUTHBEARER_LOG_LEVEL", "INFO") or "INFO").upper()
    if log_level not in _LOG_LEVELS:
        raise ConfigurationError(
            "OAUTHBEARER_LOG_LEVEL", f"must be one of {', '.join(_LOG_LEVELS)}"
        )
    ca_file = env.text("OAUTHBEARER_CA_FILE")
    if ca_file is not None:
        try:
            # Parsed, not only opened: a bundle without a certificate passed `check` and
            # failed serve's start-up with a traceback.
            ssl.create_default_context(cafile=ca_file)
        except OSError as exc:  # ssl.SSLError is an OSError
            reason = exc.strerror or getattr(exc, "reason", None) or type(exc).__name__
            raise ConfigurationError(
                "OAUTHBEARER_CA_FILE", f"{ca_file!r} is not a readable PEM bundle ({reason})"
            ) from None

    events = revocation_settings(env)
    return SidecarSettings(
        listen_host=host,
        listen_port=port,
        metrics_listen=_metrics_listen(env, (host, port)),
        tls_cert_file=tls_cert,
        tls_key_file=tls_key,
        tls_client_ca_file=tls_client_ca,
        upstream_url=upstream_url,
        upstream_authorization=authorization,
        upstream_timeout=env.number(
            "OAUTHBEARER_UPSTREAM_TIMEOUT",
            default["upstream_timeout"],
            minimum=0.05,
            maximum=60,
        ),
        upstream_max_concurrency=env.integer(
            "OAUTHBEARER_UPSTREAM_MAX_CONCURRENCY",
            default["upstream_max_concurrency"],
            minimum=1,
            maximum=10_000,
        ),
        jwks_url=jwks_url,
        issuer=env.text("OAUTHBEARER_ISSUER"),
        audiences=tuple(env.csv("OAUTHBEARER_AUDIENCE")),
        algorithms=algorithms,
        jwt_typ=env.text("OAUTHBEARER_JWT_TYP"),
        clock_skew=env.number(
            "OAUTHBEARER_CLOCK_SKEW", default["clock_skew"], minimum=0, maximum=600
        ),
        jwks_refresh_interval=env.number(
            "OAUTHBEARER_JWKS_REFRESH_INTERVAL", default["jwks_refresh_interval"], minimum=1
        ),
        jwks_min_refetch_interval=env.number(
            "OAUTHBEARER_JWKS_MIN_REFETCH_INTERVAL",
            default["jwks_min_refetch_interval"],
            minimum=0,
        ),
        ca_file=ca_file,
        callers=callers,
        caller_bearer_tokens=bearer,
        allow_anonymous=anonymous,
        caller_max_inflight=env.integer(
            "OAUTHBEARER_CALLER_MAX_INFLIGHT",
            default["caller_max_inflight"],
            minimum=0,
            maximum=10_000,
        ),
        caller_max_queued=env.integer(
            "OAUTHBEARER_CALLER_MAX_QUEUED",
            default["caller_max_queued"],
            minimum=0,
            maximum=100_000,
        ),
        cache_ttl=env.number("OAUTHBEARER_CACHE_TTL", default["cache_ttl"], minimum=0),
        cache_max_entries=env.integer(
            "OAUTHBEARER_CACHE_MAX_ENTRIES", default["cache_max_entries"], minimum=1
        ),
        negative_cache_ttl=env.number(
            "OAUTHBEARER_NEGATIVE_CACHE_TTL", default["negative_cache_ttl"], minimum=0
        ),
        negative_cache_max_entries=env.integer(
            "OAUTHBEARER_NEGATIVE_CACHE_MAX_ENTRIES",
            default["negative_cache_max_entries"],
            minimum=1,
        ),
        token_params=token_params,
        claim_rules=claim_rules(env),
        response_issuer=env.text("OAUTHBEARER_RESPONSE_ISSUER"),
        max_body_bytes=env.integer(
            "OAUTHBEARER_MAX_BODY_BYTES",
            default["max_body_bytes"],
            minimum=256,
            maximum=1 << 20,
        ),
        log_level=log_level,
        decision_log_hits=_choice(env, "OAUTHBEARER_DECISION_LOG_HITS", ("summary", "each")),
        shutdown_timeout=env.number(
            "OAUTHBEARER_SHUTDOWN_TIMEOUT", default["shutdown_timeout"], minimum=0
        ),
        **events,
    )


def _tls(env: Env) -> tuple[str | None, str | None, str | None]:
    """The listener's TLS files, checked now by building the context once."""
    cert = env.text("OAUTHBEARER_TLS_CERT_FILE")
    key = env.text("OAUTHBEARER_TLS_KEY_FILE")
    client_ca = env.text("OAUTHBEARER_TLS_CLIENT_CA_FILE")
    if (cert is None) != (key is None):
        missing = "OAUTHBEARER_TLS_KEY_FILE" if key is None else "OAUTHBEARER_TLS_CERT_FILE"
        raise ConfigurationError(missing, "is required: the certificate and its key go together")
    if client_ca is not None and cert is None:
        raise ConfigurationError(
            "OAUTHBEARER_TLS_CLIENT_CA_FILE", "needs OAUTHBEARER_TLS_CERT_FILE (mTLS is TLS)"
        )
    if cert is not None and key is not None:
        server_context(cert, key, client_ca)  # raises naming the variable at fault
    return cert, key, client_ca


def _choice(env: Env, name: str, choices: tuple[str, ...]) -> str:
    value = (env.text(name, choices[0]) or choices[0]).lower()
    if value not in choices:
        raise ConfigurationError(name, f"must be one of {', '.join(choices)}")
    return value


def _listen(value: str, name: str = "OAUTHBEARER_LISTEN") -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    digits = port_text.isascii() and port_text.isdigit()  # isdigit alone passes "²"
    if not sep or not host or not digits or not 0 <= int(port_text) <= 65535:
        raise ConfigurationError(name, f"must be host:port, got {value!r}")
    return host, int(port_text)


def _metrics_listen(env: Env, main: tuple[str, int]) -> tuple[str, int] | None:
    """The second listener's address (sidecar/metrics_listener.py), if one is asked for."""
    value = env.text("OAUTHBEARER_METRICS_LISTEN")
    if value is None:
        return None
    address = _listen(value, "OAUTHBEARER_METRICS_LISTEN")
    if address[1] != 0 and address[1] == main[1]:
        raise ConfigurationError(
            "OAUTHBEARER_METRICS_LISTEN",
            f"must use another port than OAUTHBEARER_LISTEN ({main[1]})",
        )
    return address
