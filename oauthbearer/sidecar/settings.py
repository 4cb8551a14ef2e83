"""The sidecar's configuration: one frozen object built once at start-up from the environment.

Every variable the sidecar reads is listed in :data:`VARIABLES` (name, default, meaning) —
the ``serve --help`` text and the ``env.example`` check are generated from that one list, so
a variable cannot be read without being documented.

The upstream block mirrors jairsjunior's kafka-oauth (``OAUTH_INTROSPECT_*``,
``OAUTH_WITH_SSL``) so operators can hand the sidecar the environment they gave the
broker's validator; everything new is ``OAUTHBEARER_``-prefixed.

Example:
    >>> s = SidecarSettings.from_env({
    ...     "OAUTHBEARER_JWKS_URL": "https://idp.example/jwks",
    ...     "OAUTHBEARER_CALLERS": "broker:not-a-real-secret",
    ... })
    >>> s.jwks_url, s.upstream_url, s.listen_port
    ('https://idp.example/jwks', None, 8080)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from oauthbearer._env import Env
from oauthbearer._secret import SecretSource
from oauthbearer.errors import ConfigurationError

__all__ = [
    "ALLOWED_ALGORITHMS",
    "FILE_VARIABLES",
    "VARIABLES",
    "SidecarSettings",
    "Variable",
    "parse_credentials",
]


class Variable(NamedTuple):
    """One environment variable the sidecar reads."""

    name: str
    default: str
    help: str


#: Every environment variable the sidecar reads, in the order ``serve --help`` shows them.
#: Variables marked "(+_FILE)" may instead name a file holding the value.
VARIABLES: tuple[Variable, ...] = (
    # -- upstream RFC 7662 introspection: jairsjunior's names, now describing the upstream
    Variable(
        "OAUTH_INTROSPECT_SERVER",
        "",
        "host[:port] of the upstream authorization server's introspection endpoint",
    ),
    Variable("OAUTH_INTROSPECT_ENDPOINT", "", "path of the upstream introspection endpoint"),
    Variable(
        "OAUTH_INTROSPECT_AUTHORIZATION",
        "",
        "whole Authorization header sent upstream, e.g. 'Basic base64(id:secret)' (+_FILE)",
    ),
    Variable("OAUTH_WITH_SSL", "true", "true → https:// upstream, false → http://"),
    Variable(
        "OAUTHBEARER_UPSTREAM_TIMEOUT",
        "3",
        "seconds for the whole upstream call (connect+read); then 503",
    ),
    Variable(
        "OAUTHBEARER_UPSTREAM_MAX_CONCURRENCY",
        "32",
        "most upstream introspection calls in flight at once",
    ),
    # -- local JWT verification
    Variable(
        "OAUTHBEARER_JWKS_URL",
        "",
        "JWKS URL; JWT access tokens are then verified locally",
    ),
    Variable("OAUTHBEARER_ISSUER", "", "required 'iss' of locally verified JWTs"),
    Variable(
        "OAUTHBEARER_AUDIENCE",
        "",
        "comma-separated; a locally verified JWT's 'aud' must contain one of them",
    ),
    Variable(
        "OAUTHBEARER_JWT_ALGORITHMS",
        "RS256,PS256,ES256",
        "comma-separated JWS algorithms accepted (asymmetric only; never none or HS*)",
    ),
    Variable(
        "OAUTHBEARER_JWT_TYP",
        "",
        "required JWT 'typ' header, e.g. at+jwt (RFC 9068); unset → not checked",
    ),
    Variable(
        "OAUTHBEARER_CLOCK_SKEW",
        "30",
        "seconds of clock skew tolerated on exp/nbf/iat of local JWTs",
    ),
    Variable(
        "OAUTHBEARER_JWKS_REFRESH_INTERVAL",
        "300",
        "seconds between periodic JWKS refreshes (removed keys stop working after one)",
    ),
    Variable(
        "OAUTHBEARER_JWKS_MIN_REFETCH_INTERVAL",
        "10",
        "least seconds between JWKS refetches triggered by an unknown 'kid'",
    ),
    Variable(
        "OAUTHBEARER_CA_FILE",
        "",
        "PEM bundle trusted for the upstream and JWKS (default: system trust store)",
    ),
    # -- listening and callers
    Variable("OAUTHBEARER_LISTEN", "127.0.0.1:8080", "host:port the sidecar listens on"),
    Variable(
        "OAUTHBEARER_CALLERS",
        "",
        "comma-separated id:secret pairs accepted as HTTP Basic from brokers (+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_CALLER_BEARER_TOKENS",
        "",
        "comma-separated id:token pairs accepted as static 'Bearer <token>' (+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS",
        "false",
        "true → callers without credentials are served (RFC 7662 §2.1 says authenticate)",
    ),
    Variable(
        "OAUTHBEARER_CALLER_MAX_INFLIGHT",
        "16",
        "most distinct tokens one caller may have waiting on the upstream at once (0 = no "
        "limit); keep it under OAUTHBEARER_UPSTREAM_MAX_CONCURRENCY so one broker cannot "
        "starve the others",
    ),
    Variable(
        "OAUTHBEARER_CALLER_MAX_QUEUED",
        "64",
        "further requests of that caller that may wait for one of its slots (at most "
        "OAUTHBEARER_UPSTREAM_TIMEOUT); beyond, 429 with Retry-After",
    ),
    # -- cache
    Variable(
        "OAUTHBEARER_CACHE_TTL",
        "60",
        "longest a positive result is served from cache, in seconds: this is the "
        "WORST-CASE DELAY before a revocation takes effect (never past the token's exp)",
    ),
    Variable("OAUTHBEARER_CACHE_MAX_ENTRIES", "100000", "most positive results cached"),
    Variable(
        "OAUTHBEARER_NEGATIVE_CACHE_TTL",
        "2",
        "seconds an inactive result is cached (0 = off); shields the upstream from floods",
    ),
    Variable("OAUTHBEARER_NEGATIVE_CACHE_MAX_ENTRIES", "10000", "most inactive results cached"),
    # -- request and response shape
    Variable(
        "OAUTHBEARER_TOKEN_PARAMS",
        "token",
        "comma-separated form parameter names accepted for the token (Strimzi can rename it)",
    ),
    Variable(
        "OAUTHBEARER_SUBJECT_CLAIMS",
        "client_id,username",
        "claims tried in order for 'sub' when the token has none",
    ),
    Variable(
        "OAUTHBEARER_RESPONSE_ISSUER",
        "",
        "'iss' put in every active answer (Strimzi checks it); unset → passed through",
    ),
    Variable("OAUTHBEARER_MAX_BODY_BYTES", "16384", "larger request bodies get 413"),
    # -- operations
    Variable("OAUTHBEARER_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Variable(
        "OAUTHBEARER_SHUTDOWN_TIMEOUT",
        "10",
        "seconds in-flight requests get to finish after SIGTERM",
    ),
    # -- revocation (identity-provider events; see oauthbearer/sidecar/revocation)
    Variable(
        "OAUTHBEARER_EVENT_CALLERS",
        "",
        "comma-separated id:secret pairs accepted as HTTP Basic on /events/* and "
        "/revocations (webhooks; separate from the brokers'); unset → those routes are off "
        "(+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME",
        "86400",
        "seconds: the longest lifetime of any access token; revocations are kept, and the "
        "event topic replayed on start, this far back",
    ),
    Variable(
        "OAUTHBEARER_REVOCATION_MAX_ENTRIES",
        "100000",
        "most principals (and, separately, single tokens) held revoked at once",
    ),
    Variable(
        "OAUTHBEARER_REVOCATION_PRINCIPAL_CLAIM",
        "sub",
        "claim of the answer that an event's user id is compared with",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS",
        "",
        "Kafka bootstrap servers of the identity provider's event topic; unset → no topic",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_TOPIC",
        "",
        "topic of FusionAuth (or Keycloak) events, read in full by every replica",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL for the events consumer",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SASL_MECHANISM",
        "OAUTHBEARER",
        "OAUTHBEARER, PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_* only)",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_OAUTH",
        "false",
        "true → the events consumer gets tokens from our oauth_cb, configured by the "
        "OAUTH_LOGIN_* variables (needs SASL_* and OAUTHBEARER)",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SASL_USERNAME",
        "",
        "username for PLAIN/SCRAM on the events consumer",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_SASL_PASSWORD",
        "",
        "password for PLAIN/SCRAM on the events consumer (+_FILE)",
    ),
    Variable(
        "OAUTHBEARER_EVENTS_CA_FILE",
        "",
        "PEM bundle trusted for the events brokers' TLS (default: system trust store)",
    ),
)

#: The ``NAME_FILE`` alternatives of the secret-bearing variables above (the file holds
#: the value; it is re-read when it changes, so rotated Kubernetes Secrets apply live).
FILE_VARIABLES: tuple[str, ...] = (
    "OAUTH_INTROSPECT_AUTHORIZATION_FILE",
    "OAUTHBEARER_CALLERS_FILE",
    "OAUTHBEARER_CALLER_BEARER_TOKENS_FILE",
    "OAUTHBEARER_EVENT_CALLERS_FILE",
    "OAUTHBEARER_EVENTS_SASL_PASSWORD_FILE",
)

#: Asymmetric JWS algorithms we know how to pair with a key type. ``none`` and the HMAC
#: family are absent on purpose: with a JWKS of public keys, accepting ``HS256`` would let
#: anyone sign with the public key as the HMAC secret (the classic algorithm confusion).
ALLOWED_ALGORITHMS: frozenset[str] = frozenset(
    {
        "RS256",
        "RS384",
        "RS512",
        "PS256",
        "PS384",
        "PS512",
        "ES256",
        "ES384",
        "ES512",
        "EdDSA",
        "Ed25519",
    }
)

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("OAUTHBEARER", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
_DEFAULT_SUBJECT_CLAIMS = ("client_id", "username")


def parse_credentials(variable: str, raw: str) -> dict[str, str]:
    """Parse ``id:secret`` pairs separated by commas or newlines.

    Errors name the variable and the entry's position, never its content (it holds a
    secret).

    Example:
        >>> parse_credentials("OAUTHBEARER_CALLERS", "a:x, b:y:z")
        {'a': 'x', 'b': 'y:z'}
    """
    pairs: dict[str, str] = {}
    entries = [e.strip() for e in raw.replace("\n", ",").split(",")]
    for position, entry in enumerate((e for e in entries if e), start=1):
        ident, sep, secret = entry.partition(":")
        ident = ident.strip()
        if not sep or not ident or not secret:
            raise ConfigurationError(
                variable, f"entry {position} must be id:secret with both parts non-empty"
            )
        if ident in pairs:
            raise ConfigurationError(variable, f"caller id {ident!r} appears twice")
        pairs[ident] = secret
    return pairs


@dataclass(frozen=True, slots=True)
class SidecarSettings:
    """Everything the sidecar needs, validated. Build it with :meth:`from_env`."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    upstream_url: str | None = None
    upstream_authorization: SecretSource | None = None
    upstream_timeout: float = 3.0
    upstream_max_concurrency: int = 32
    jwks_url: str | None = None
    issuer: str | None = None
    audiences: tuple[str, ...] = ()
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256")
    jwt_typ: str | None = None
    clock_skew: float = 30.0
    jwks_refresh_interval: float = 300.0
    jwks_min_refetch_interval: float = 10.0
    ca_file: str | None = None
    callers: SecretSource | None = None
    caller_bearer_tokens: SecretSource | None = None
    allow_anonymous: bool = False
    caller_max_inflight: int = 16
    caller_max_queued: int = 64
    cache_ttl: float = 60.0
    cache_max_entries: int = 100_000
    negative_cache_ttl: float = 2.0
    negative_cache_max_entries: int = 10_000
    token_params: tuple[str, ...] = ("token",)
    subject_claims: tuple[str, ...] = ("client_id", "username")
    response_issuer: str | None = None
    max_body_bytes: int = 16_384
    log_level: str = "INFO"
    shutdown_timeout: float = 10.0
    event_callers: SecretSource | None = None
    revocation_max_token_lifetime: float = 86_400.0
    revocation_max_entries: int = 100_000
    revocation_principal_claim: str = "sub"
    events_bootstrap_servers: str | None = None
    events_topic: str | None = None
    events_security_protocol: str = "PLAINTEXT"
    events_sasl_mechanism: str = "OAUTHBEARER"
    events_oauth: bool = False
    events_sasl_username: str | None = None
    events_sasl_password: SecretSource | None = None
    events_ca_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SidecarSettings:
        """Read and validate every variable in :data:`VARIABLES`.

        Raises :class:`~oauthbearer.errors.ConfigurationError` naming the first bad
        variable. Neither an upstream nor a JWKS URL, or no callers without an explicit
        ``OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS=true``, are start-up errors.
        """
        env = Env(environ)
        # One source for each default: the field's, so explicit construction and the
        # environment cannot drift apart.
        default: dict[str, Any] = {f.name: f.default for f in fields(cls)}

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
        if server and endpoint:
            scheme = "https" if env.flag("OAUTH_WITH_SSL", default=True) else "http"
            upstream_url = f"{scheme}://{server}{endpoint}"
        authorization = env.secret("OAUTH_INTROSPECT_AUTHORIZATION")

        jwks_url = env.url("OAUTHBEARER_JWKS_URL")
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

        callers = env.secret("OAUTHBEARER_CALLERS")
        if callers is not None:
            parse_credentials("OAUTHBEARER_CALLERS", callers.reveal())
        bearer = env.secret("OAUTHBEARER_CALLER_BEARER_TOKENS")
        if bearer is not None:
            parse_credentials("OAUTHBEARER_CALLER_BEARER_TOKENS", bearer.reveal())
        anonymous = env.flag("OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS", default=False)
        if callers is None and bearer is None and not anonymous:
            raise ConfigurationError(
                "OAUTHBEARER_CALLERS",
                "no callers configured: RFC 7662 §2.1 requires the introspection endpoint "
                "to authenticate its callers, otherwise it is a token-scanning oracle. Set "
                "OAUTHBEARER_CALLERS=id:secret (the brokers' credentials), or set "
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
                with open(ca_file, "rb"):
                    pass
            except OSError as exc:
                raise ConfigurationError(
                    "OAUTHBEARER_CA_FILE", f"cannot read {ca_file!r}: {exc.strerror}"
                ) from None

        subject_claims = env.csv("OAUTHBEARER_SUBJECT_CLAIMS")
        events = _events(env)
        return cls(
            listen_host=host,
            listen_port=port,
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
            subject_claims=tuple(subject_claims) if subject_claims else _DEFAULT_SUBJECT_CLAIMS,
            response_issuer=env.text("OAUTHBEARER_RESPONSE_ISSUER"),
            max_body_bytes=env.integer(
                "OAUTHBEARER_MAX_BODY_BYTES",
                default["max_body_bytes"],
                minimum=256,
                maximum=1 << 20,
            ),
            log_level=log_level,
            shutdown_timeout=env.number(
                "OAUTHBEARER_SHUTDOWN_TIMEOUT", default["shutdown_timeout"], minimum=0
            ),
            **events,
        )


def _events(env: Env) -> dict[str, Any]:
    """The revocation settings: event callers, the store's bounds, the events consumer."""
    event_callers = env.secret("OAUTHBEARER_EVENT_CALLERS")
    if event_callers is not None:
        parse_credentials("OAUTHBEARER_EVENT_CALLERS", event_callers.reveal())
    claim = env.text("OAUTHBEARER_REVOCATION_PRINCIPAL_CLAIM", "sub") or "sub"
    bootstrap = env.text("OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS")
    topic = env.text("OAUTHBEARER_EVENTS_TOPIC")
    if bootstrap is not None and topic is None:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_TOPIC",
            "is required when OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS is set",
        )
    protocol = (env.text("OAUTHBEARER_EVENTS_SECURITY_PROTOCOL", "PLAINTEXT") or "").upper()
    if protocol not in _SECURITY_PROTOCOLS:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL",
            f"must be one of {', '.join(_SECURITY_PROTOCOLS)}",
        )
    mechanism = (env.text("OAUTHBEARER_EVENTS_SASL_MECHANISM", "OAUTHBEARER") or "").upper()
    if mechanism not in _SASL_MECHANISMS:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_SASL_MECHANISM", f"must be one of {', '.join(_SASL_MECHANISMS)}"
        )
    oauth = env.flag("OAUTHBEARER_EVENTS_OAUTH", default=False)
    username = env.text("OAUTHBEARER_EVENTS_SASL_USERNAME")
    password = env.secret("OAUTHBEARER_EVENTS_SASL_PASSWORD")
    sasl = protocol.startswith("SASL_")
    if oauth and not (sasl and mechanism == "OAUTHBEARER"):
        # CONTRACT.md §6: oauth_cb with a non-SASL protocol makes the consumer wait 10 s
        # for a token it never asks for, then fail.
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_OAUTH",
            "needs OAUTHBEARER_EVENTS_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT) and "
            "OAUTHBEARER_EVENTS_SASL_MECHANISM=OAUTHBEARER",
        )
    if bootstrap is not None and sasl and mechanism == "OAUTHBEARER" and not oauth:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_OAUTH",
            "must be true for SASL OAUTHBEARER (tokens come from the OAUTH_LOGIN_* variables)",
        )
    needs_password = bootstrap is not None and sasl and mechanism != "OAUTHBEARER"
    if needs_password and (username is None or password is None):
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_SASL_USERNAME",
            f"and OAUTHBEARER_EVENTS_SASL_PASSWORD are required for {mechanism}",
        )
    ca_file = env.text("OAUTHBEARER_EVENTS_CA_FILE")
    if ca_file is not None and not os.access(ca_file, os.R_OK):
        raise ConfigurationError("OAUTHBEARER_EVENTS_CA_FILE", f"cannot read {ca_file!r}")
    return {
        "event_callers": event_callers,
        "revocation_max_token_lifetime": env.number(
            "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME", 86_400.0, minimum=1
        ),
        "revocation_max_entries": env.integer(
            "OAUTHBEARER_REVOCATION_MAX_ENTRIES", 100_000, minimum=1, maximum=10_000_000
        ),
        "revocation_principal_claim": claim,
        "events_bootstrap_servers": bootstrap,
        "events_topic": topic,
        "events_security_protocol": protocol,
        "events_sasl_mechanism": mechanism,
        "events_oauth": oauth,
        "events_sasl_username": username,
        "events_sasl_password": password,
        "events_ca_file": ca_file,
    }


def _listen(value: str) -> tuple[str, int]:
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigurationError("OAUTHBEARER_LISTEN", f"must be host:port, got {value!r}")
    return host, int(port_text)
