"""What a client configuration may be: grant types, client authentication methods, and the
checks :class:`~oauthbearer.client.settings.ClientSettings` runs on construction.

Each check raises a :class:`~oauthbearer.errors.ConfigurationError` naming the
environment variable that carries the setting at fault, so explicit construction and
``from_env`` fail the same way, at start-up.

Example:
    >>> grant_type("jwt-bearer") == GRANT_JWT_BEARER
    True
    >>> try:
    ...     grant_type("implicit")
    ... except ConfigurationError as exc:
    ...     print(exc.variable)
    OAUTH_LOGIN_GRANT_TYPE
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from oauthbearer._env import split_url
from oauthbearer.client.variables import (
    V_ACTOR_TOKEN,
    V_ACTOR_TOKEN_TYPE,
    V_ASSERTION,
    V_BACKOFF_BASE,
    V_BACKOFF_MAX,
    V_CA_FILE,
    V_CERT_FILE,
    V_CLOCK_SKEW,
    V_DEADLINE,
    V_ENDPOINT,
    V_EXTRA_PARAMS,
    V_GRANT,
    V_ISSUER,
    V_KEY_FILE,
    V_MAX_LIFETIME,
    V_PASSWORD,
    V_REFRESH_FRACTION,
    V_REFRESH_JITTER,
    V_REFRESH_TOKEN,
    V_RESOURCE,
    V_SERVER,
    V_SUBJECT_TOKEN,
    V_SUBJECT_TOKEN_TYPE,
    V_TIMEOUT,
    V_TOKEN_URL,
    V_USERNAME,
)
from oauthbearer.errors import ConfigurationError

if TYPE_CHECKING:
    from oauthbearer.client.settings import ClientSettings

__all__ = [
    "GRANT_CLIENT_CREDENTIALS",
    "GRANT_JWT_BEARER",
    "GRANT_PASSWORD",
    "GRANT_REFRESH_TOKEN",
    "GRANT_TOKEN_EXCHANGE",
    "TOKEN_TYPE_JWT",
    "check_endpoint",
    "check_files",
    "check_grant",
    "check_numbers",
    "check_params",
    "grant_type",
]

GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_PASSWORD = "password"  # noqa: S105 - a grant type name, not a password
GRANT_REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name
GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"  # RFC 7523 §2.1
# RFC 8693 §2.1
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
_GRANTS = {
    GRANT_CLIENT_CREDENTIALS: GRANT_CLIENT_CREDENTIALS,
    GRANT_PASSWORD: GRANT_PASSWORD,
    GRANT_REFRESH_TOKEN: GRANT_REFRESH_TOKEN,
    GRANT_JWT_BEARER: GRANT_JWT_BEARER,
    "jwt_bearer": GRANT_JWT_BEARER,
    "jwt-bearer": GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE: GRANT_TOKEN_EXCHANGE,
    "token_exchange": GRANT_TOKEN_EXCHANGE,
    "token-exchange": GRANT_TOKEN_EXCHANGE,
}

# RFC 8693 §3
TOKEN_TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a URN

# Parameters the grants and client authentication produce; extra params may not override.
_RESERVED_PARAMS = frozenset(
    {
        "grant_type",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "scope",
        "audience",
        "resource",
        "username",
        "password",
        "refresh_token",
        "assertion",
        "subject_token",
        "subject_token_type",
        "actor_token",
        "actor_token_type",
        "requested_token_type",
    }
)


def grant_type(name: str) -> str:
    """The grant type URI or name ``name`` stands for (short spellings accepted)."""
    grant = _GRANTS.get(name)
    if grant is None:
        raise ConfigurationError(
            V_GRANT,
            f"unsupported grant type {name!r}; use client_credentials, password, "
            "refresh_token, jwt-bearer or token-exchange",
        )
    return grant


def check_endpoint(s: ClientSettings) -> None:
    """Exactly one of a token URL and an issuer, each an http(s) URL without credentials."""
    if s.token_url is not None and s.issuer is not None:
        raise ConfigurationError(V_ISSUER, f"set either {V_ISSUER} or a token URL, not both")
    if s.token_url is None and s.issuer is None:
        raise ConfigurationError(
            V_SERVER,
            f"is required: set {V_SERVER} and {V_ENDPOINT}, or {V_TOKEN_URL}, or {V_ISSUER}",
        )
    for value, variable in ((s.token_url, s.endpoint_variable), (s.issuer, V_ISSUER)):
        if value is None:
            continue
        parts = split_url(variable, value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(variable, f"must be an http(s) URL, got {value!r}")
        if parts.username is not None or parts.password is not None:
            # Credentials in a URL end up in logs and proxies; they have their own settings.
            raise ConfigurationError(variable, "must not carry user:password@")
    if s.issuer is not None:
        parts = split_url(V_ISSUER, s.issuer)
        if parts.query or parts.fragment:
            # RFC 8414 §2: the issuer has no query or fragment component.
            raise ConfigurationError(V_ISSUER, "must not have a query or fragment")


def check_grant(s: ClientSettings) -> None:
    """What the (normalised) grant type needs is there."""
    if s.grant_type == GRANT_PASSWORD:
        if not s.username:
            raise ConfigurationError(V_USERNAME, "is required for the password grant")
        if s.password is None:
            raise ConfigurationError(V_PASSWORD, "is required for the password grant")
    elif s.grant_type == GRANT_REFRESH_TOKEN and s.refresh_token is None:
        raise ConfigurationError(V_REFRESH_TOKEN, "is required for the refresh_token grant")
    elif s.grant_type == GRANT_JWT_BEARER and s.assertion is None:
        raise ConfigurationError(
            V_ASSERTION + "_FILE", "is required for the jwt-bearer grant (RFC 7523 §2.1)"
        )
    elif s.grant_type == GRANT_TOKEN_EXCHANGE:
        if s.subject_token is None:
            raise ConfigurationError(
                V_SUBJECT_TOKEN + "_FILE", "is required for token exchange (RFC 8693 §2.1)"
            )
        if not s.subject_token_type:
            raise ConfigurationError(V_SUBJECT_TOKEN_TYPE, "must not be empty")
        # RFC 8693 §2.1: actor_token_type is REQUIRED when actor_token is present.
        if s.actor_token is not None and not s.actor_token_type:
            raise ConfigurationError(
                V_ACTOR_TOKEN_TYPE, f"is required with {V_ACTOR_TOKEN}_FILE (RFC 8693 §2.1)"
            )


def check_files(s: ClientSettings) -> None:
    """The TLS files exist, and a client key comes with its certificate."""
    for name, variable in (
        (s.cert_file, V_CERT_FILE),
        (s.key_file, V_KEY_FILE),
        (s.ca_file, V_CA_FILE),
    ):
        if name is not None and not os.path.isfile(name):
            raise ConfigurationError(variable, f"no such file: {name}")
    if s.key_file is not None and s.cert_file is None:
        raise ConfigurationError(V_CERT_FILE, f"is required with {V_KEY_FILE}")


def check_params(s: ClientSettings) -> None:
    """Extra parameters do not override a setting's own; resources are absolute URIs."""
    for key, _ in s.extra_params:
        if not key:
            raise ConfigurationError(V_EXTRA_PARAMS, "has a parameter without a name")
        if key in _RESERVED_PARAMS:
            raise ConfigurationError(
                V_EXTRA_PARAMS, f"{key!r} is set by its own setting, not as an extra parameter"
            )
    for resource in s.resources:
        parts = split_url(V_RESOURCE, resource)
        # RFC 8707 §2: an absolute URI without a fragment.
        if not parts.scheme or parts.fragment:
            raise ConfigurationError(
                V_RESOURCE, f"must be absolute URIs without a fragment, got {resource!r}"
            )


def check_numbers(s: ClientSettings) -> None:
    """Timing settings within sane bounds, and refresh well before expiry."""
    checks: tuple[tuple[float, str, float, float], ...] = (
        (s.refresh_fraction, V_REFRESH_FRACTION, 0.05, 0.95),
        (s.refresh_jitter, V_REFRESH_JITTER, 0.0, 0.2),
        (s.clock_skew, V_CLOCK_SKEW, 0.0, 600.0),
        # confluent-kafka waits 10 s for the first token (CONTRACT §6): stay well under.
        (s.timeout, V_TIMEOUT, 0.1, 6.0),
        (s.deadline, V_DEADLINE, 0.1, 600.0),
        (s.backoff_base, V_BACKOFF_BASE, 0.01, 60.0),
        (s.backoff_max, V_BACKOFF_MAX, 0.1, 3600.0),
        (s.max_lifetime, V_MAX_LIFETIME, 60.0, 31_536_000.0),
    )
    for value, variable, low, high in checks:
        if not low <= value <= high:
            raise ConfigurationError(variable, f"must be between {low} and {high}, got {value}")
    if s.refresh_fraction + s.refresh_jitter >= 1.0:
        raise ConfigurationError(V_REFRESH_JITTER, f"plus {V_REFRESH_FRACTION} must stay below 1")
    if s.refresh_fraction - s.refresh_jitter < 0.05:
        # A refresh drawn at (or before) issuance: every call would fetch again.
        raise ConfigurationError(
            V_REFRESH_JITTER, f"must stay at least 0.05 below {V_REFRESH_FRACTION}"
        )
