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

from collections.abc import Mapping
from dataclasses import dataclass

from oauthbearer._secret import SecretSource
from oauthbearer.sidecar.claims import DEFAULT_CLAIM_RULES, ClaimRules
from oauthbearer.sidecar.credentials import parse_credentials
from oauthbearer.sidecar.variables import FILE_VARIABLES, VARIABLES, Variable

__all__ = [
    "ALLOWED_ALGORITHMS",
    "FILE_VARIABLES",
    "VARIABLES",
    "SidecarSettings",
    "Variable",
    "parse_credentials",
]

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


@dataclass(frozen=True, slots=True)
class SidecarSettings:
    """Everything the sidecar needs, validated. Build it with :meth:`from_env`."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    metrics_listen: tuple[str, int] | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
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
    claim_rules: ClaimRules = DEFAULT_CLAIM_RULES
    response_issuer: str | None = None
    max_body_bytes: int = 16_384
    log_level: str = "INFO"
    decision_log_hits: str = "summary"
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
    keycloak_emitter_secret: SecretSource | None = None
    keycloak_event_topic: str | None = None
    keycloak_admin_event_topic: str | None = None
    revocations_topic: str | None = None
    revocations_publish_timeout: float = 5.0

    @property
    def kafka_topics(self) -> tuple[str, ...]:
        """Every topic the sidecar reads (all through one consumer, every partition)."""
        named = (
            self.events_topic,
            self.keycloak_event_topic,
            self.keycloak_admin_event_topic,
            self.revocations_topic,
        )
        return tuple(t for t in named if t is not None)

    @property
    def webhooks(self) -> bool:
        """True when the revocation routes are served (some webhook credential is set)."""
        return self.event_callers is not None or self.keycloak_emitter_secret is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SidecarSettings:
        """Read and validate every variable in :data:`VARIABLES` (see
        :mod:`oauthbearer.sidecar.environment`); the first bad one is named in the error."""
        # Imported here: environment.py builds SidecarSettings, so it imports this module.
        from oauthbearer.sidecar.environment import settings_from_env

        return settings_from_env(environ)
