"""Client configuration: one frozen object, built once, from arguments or the environment.

The jairsjunior/kafka-oauth names (``OAUTH_LOGIN_*``, ``OAUTH_AUTHORIZATION``,
``OAUTH_WITH_SSL``) are read as that project reads them, so an existing deployment keeps
working unchanged. Everything new is ``OAUTHBEARER_LOGIN_*``: the sidecar owns the other
``OAUTHBEARER_*`` names. :data:`CLIENT_VARIABLES` lists every variable read here.

Every check (:mod:`oauthbearer.client.validation`) runs in ``__post_init__``, so explicit
construction and :meth:`from_env` (:mod:`oauthbearer.client.environment`) fail the same
way: a :class:`~oauthbearer.errors.ConfigurationError` naming the environment variable
that carries the setting. The names are in :mod:`oauthbearer.client.variables`.

Example:
    >>> s = ClientSettings.from_env({
    ...     "OAUTH_LOGIN_SERVER": "idp.example:8443",
    ...     "OAUTH_LOGIN_ENDPOINT": "/oauth2/token",
    ...     "OAUTH_AUTHORIZATION": "Basic a2Fma2E6czNjcjN0",
    ... })
    >>> s.token_url, s.grant_type, s.auth_method
    ('https://idp.example:8443/oauth2/token', 'client_credentials', 'authorization_header')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from oauthbearer._secret import FileSecret, Secret, SecretSource
from oauthbearer.client.auth_methods import AUTH_METHODS, auth_method
from oauthbearer.client.sasl import validate_extensions
from oauthbearer.client.validation import (
    GRANT_CLIENT_CREDENTIALS,
    GRANT_JWT_BEARER,
    GRANT_PASSWORD,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_JWT,
    check_endpoint,
    check_files,
    check_grant,
    check_numbers,
    check_params,
    grant_type,
)
from oauthbearer.client.variables import (
    CLIENT_VARIABLES,
    V_EXTENSIONS,
    V_PRINCIPAL_CLAIM,
    V_TOKEN_URL,
)
from oauthbearer.errors import ConfigurationError

__all__ = [
    "AUTH_METHODS",
    "CLIENT_VARIABLES",
    "GRANT_CLIENT_CREDENTIALS",
    "GRANT_JWT_BEARER",
    "GRANT_PASSWORD",
    "GRANT_REFRESH_TOKEN",
    "GRANT_TOKEN_EXCHANGE",
    "ClientSettings",
    "need",
]

_T = TypeVar("_T")

#: Fields left out of :meth:`ClientSettings.identity`: they only shape what each provider
#: hands its Kafka client (principal, SASL extensions), how long one call may wait, or a
#: message. Providers differing only in these share one token.
_PER_PROVIDER = frozenset({"sasl_extensions", "principal_claim", "deadline", "endpoint_variable"})
#: Field values that are settings, not secrets: they take part in the identity as they are.
_PLAIN = (str, int, float, tuple, type(None))


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """Everything needed to obtain a token. Immutable; validated on construction.

    Set exactly one endpoint source: ``token_url`` or ``issuer`` (RFC 8414 / OpenID
    discovery). ``auth_method`` is inferred when omitted: the verbatim ``authorization``
    header if given, else ``client_secret_basic`` with a secret, ``private_key_jwt`` with a
    key, ``tls_client_auth`` with a certificate, else ``none``. With an injected
    ``httpx.Client`` the TLS options (``ca_file``, ``cert_file``) are that client's business
    (never reloaded); otherwise the files are re-read when they change.

    Example:
        >>> from oauthbearer._secret import Secret
        >>> s = ClientSettings(token_url="https://idp.example/token", client_id="kafka",
        ...                    client_secret=Secret("s3cr3t"), scope="kafka")
        >>> s.auth_method
        'client_secret_basic'
        >>> "s3cr3t" in repr(s)
        False
    """

    token_url: str | None = None
    issuer: str | None = None
    grant_type: str = GRANT_CLIENT_CREDENTIALS
    scope: str | None = None
    authorization: SecretSource | None = None
    client_id: str | None = None
    client_secret: SecretSource | None = None
    auth_method: str = ""
    basic_form_encode: bool = True
    private_key: SecretSource | None = None
    client_assertion: SecretSource | None = None
    key_id: str | None = None
    assertion_alg: str = ""
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    audience: str | None = None
    resources: tuple[str, ...] = ()
    extra_params: tuple[tuple[str, str], ...] = ()
    username: str | None = None
    password: SecretSource | None = None
    refresh_token: SecretSource | None = None
    assertion: SecretSource | None = None
    subject_token: SecretSource | None = None
    subject_token_type: str = TOKEN_TYPE_JWT
    actor_token: SecretSource | None = None
    actor_token_type: str | None = None
    requested_token_type: str | None = None
    sasl_extensions: tuple[tuple[str, str], ...] = ()
    principal_claim: str = "sub"
    refresh_fraction: float = 0.8
    refresh_jitter: float = 0.05
    clock_skew: float = 30.0
    timeout: float = 5.0
    deadline: float = 8.0
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    max_lifetime: float = 172_800.0
    # Not a setting: the variable that supplied the endpoint, for messages only.
    endpoint_variable: str = field(default=V_TOKEN_URL, compare=False)

    def __post_init__(self) -> None:
        # The checks live in validation.py; a normalised value is set back on the frozen
        # instance (a short grant name becomes its URI, an inferred method is recorded).
        check_endpoint(self)
        object.__setattr__(self, "grant_type", grant_type(self.grant_type))
        check_grant(self)
        method, alg = auth_method(self)
        object.__setattr__(self, "auth_method", method)
        object.__setattr__(self, "assertion_alg", alg)
        check_files(self)
        check_params(self)
        object.__setattr__(
            self, "sasl_extensions", validate_extensions(self.sasl_extensions, V_EXTENSIONS)
        )
        if not self.principal_claim:
            raise ConfigurationError(V_PRINCIPAL_CLAIM, "must not be empty")
        check_numbers(self)

    # --- derived -----------------------------------------------------------------------
    def identity(self) -> tuple[Any, ...]:
        """Everything that shapes the token request or how its answer is judged and
        scheduled; equal identities share one cache slot.

        Every field takes part except :data:`_PER_PROVIDER` (what each provider does with
        a token once it has one). Constant secrets take part by value (``Secret`` hashes
        its value, never shows it); file secrets by path, because their content may
        rotate under the same identity. A new field is in the identity unless it is
        named there: forgetting one must cost a fetch, never hand one client another's
        token (``client_assertion`` was once left out, and two workloads that differed
        only by their assertion file shared whichever token came first).

        Example:
            >>> a = ClientSettings(token_url="https://idp/t", client_id="a")
            >>> a.identity() == ClientSettings(token_url="https://idp/t", client_id="a").identity()
            True
            >>> a.identity() == ClientSettings(token_url="https://idp/t", client_id="b").identity()
            False
        """
        values = (getattr(self, f.name) for f in fields(self) if f.name not in _PER_PROVIDER)
        return tuple(v if isinstance(v, _PLAIN) else _secret_identity(v) for v in values)

    # --- construction from the environment ---------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        """Build settings from environment variables (``os.environ`` when ``None``).

        Example:
            >>> ClientSettings.from_env({"OAUTHBEARER_LOGIN_TOKEN_URL": "http://127.0.0.1:9/t",
            ...                          "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka"}).auth_method
            'none'
        """
        # Imported here: environment.py builds ClientSettings, so it imports this module.
        from oauthbearer.client.environment import settings_from_env

        return settings_from_env(environ)


def need(value: _T | None, variable: str) -> _T:
    """``value``, or a ConfigurationError naming ``variable`` when it is missing.

    ClientSettings refuses missing values already; grants and client authentication call
    this so that their own constructors stay honest without ``assert``.
    """
    if value is None:
        raise ConfigurationError(variable, "is required")
    return value


def _secret_identity(source: SecretSource | None) -> object:
    if source is None:
        return None
    if isinstance(source, FileSecret):
        return ("file", str(source.path))
    if isinstance(source, Secret):
        return source
    return ("object", id(source))
