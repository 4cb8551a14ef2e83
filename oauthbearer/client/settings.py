"""Client configuration: one frozen object, built once, from arguments or the environment.

The jairsjunior/kafka-oauth names (``OAUTH_LOGIN_*``, ``OAUTH_AUTHORIZATION``,
``OAUTH_WITH_SSL``) are read as that project reads them, so an existing deployment keeps
working unchanged. Everything new is ``OAUTHBEARER_LOGIN_*``: the sidecar owns the other
``OAUTHBEARER_*`` names. :data:`CLIENT_VARIABLES` lists every variable read here.

Every check runs in ``__post_init__``, so explicit construction and :meth:`from_env` fail
the same way: a :class:`~oauthbearer.errors.ConfigurationError` naming the environment
variable that carries the setting.

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

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import parse_qsl, urlsplit

from oauthbearer._env import Env
from oauthbearer._secret import FileSecret, Secret, SecretSource
from oauthbearer.client.azure import AZURE_VARIABLES, workload_identity
from oauthbearer.client.sasl import parse_extensions, validate_extensions
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

#: Client authentication methods (RFC 6749 §2.3, RFC 7523 §2.2, RFC 8705 §2, OIDC Core §9),
#: plus ``authorization_header``: jairsjunior's ``OAUTH_AUTHORIZATION`` sent verbatim.
AUTH_METHODS = (
    "authorization_header",
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "client_assertion",
    "tls_client_auth",
    "none",
)
_HMAC_ALGS = ("HS256", "HS384", "HS512")
_KEY_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

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

# Environment variable names, one constant each so messages and from_env agree.
V_SERVER = "OAUTH_LOGIN_SERVER"
V_ENDPOINT = "OAUTH_LOGIN_ENDPOINT"
V_WITH_SSL = "OAUTH_WITH_SSL"
V_GRANT = "OAUTH_LOGIN_GRANT_TYPE"
V_SCOPE = "OAUTH_LOGIN_SCOPE"
V_AUTHORIZATION = "OAUTH_AUTHORIZATION"
_P = "OAUTHBEARER_LOGIN_"
V_AUTHORIZATION_FILE = _P + "AUTHORIZATION_FILE"
V_TOKEN_URL = _P + "TOKEN_URL"
V_ISSUER = _P + "ISSUER"
V_CLIENT_ID = _P + "CLIENT_ID"
V_CLIENT_SECRET = _P + "CLIENT_SECRET"
V_AUTH_METHOD = _P + "AUTH_METHOD"
V_BASIC_FORM_ENCODE = _P + "BASIC_FORM_ENCODE"
V_PRIVATE_KEY = _P + "PRIVATE_KEY"
V_KEY_ID = _P + "KEY_ID"
V_ASSERTION_ALG = _P + "CLIENT_ASSERTION_ALG"
V_CLIENT_ASSERTION = _P + "CLIENT_ASSERTION"
V_CERT_FILE = _P + "CERT_FILE"
V_KEY_FILE = _P + "KEY_FILE"
V_CA_FILE = _P + "CA_FILE"
V_AUDIENCE = _P + "AUDIENCE"
V_RESOURCE = _P + "RESOURCE"
V_EXTRA_PARAMS = _P + "EXTRA_PARAMS"
V_USERNAME = _P + "USERNAME"
V_PASSWORD = _P + "PASSWORD"
V_REFRESH_TOKEN = _P + "REFRESH_TOKEN"
V_ASSERTION = _P + "ASSERTION"
V_SUBJECT_TOKEN = _P + "SUBJECT_TOKEN"
V_SUBJECT_TOKEN_TYPE = _P + "SUBJECT_TOKEN_TYPE"
V_ACTOR_TOKEN = _P + "ACTOR_TOKEN"
V_ACTOR_TOKEN_TYPE = _P + "ACTOR_TOKEN_TYPE"
V_REQUESTED_TOKEN_TYPE = _P + "REQUESTED_TOKEN_TYPE"
V_EXTENSIONS = _P + "SASL_EXTENSIONS"
V_PRINCIPAL_CLAIM = _P + "PRINCIPAL_CLAIM"
V_REFRESH_FRACTION = _P + "REFRESH_FRACTION"
V_REFRESH_JITTER = _P + "REFRESH_JITTER"
V_CLOCK_SKEW = _P + "CLOCK_SKEW"
V_TIMEOUT = _P + "TIMEOUT"
V_DEADLINE = _P + "DEADLINE"
V_BACKOFF_BASE = _P + "BACKOFF_BASE"
V_BACKOFF_MAX = _P + "BACKOFF_MAX"
V_MAX_LIFETIME = _P + "MAX_LIFETIME"

#: Every environment variable the client half reads (``*_FILE`` twins included).
CLIENT_VARIABLES: tuple[str, ...] = (
    V_SERVER,
    V_ENDPOINT,
    V_WITH_SSL,
    V_GRANT,
    V_SCOPE,
    V_AUTHORIZATION,
    V_AUTHORIZATION_FILE,
    V_TOKEN_URL,
    V_ISSUER,
    V_CLIENT_ID,
    V_CLIENT_SECRET,
    V_CLIENT_SECRET + "_FILE",
    V_AUTH_METHOD,
    V_BASIC_FORM_ENCODE,
    V_PRIVATE_KEY + "_FILE",
    V_KEY_ID,
    V_ASSERTION_ALG,
    V_CLIENT_ASSERTION + "_FILE",
    *AZURE_VARIABLES,
    V_CERT_FILE,
    V_KEY_FILE,
    V_CA_FILE,
    V_AUDIENCE,
    V_RESOURCE,
    V_EXTRA_PARAMS,
    V_USERNAME,
    V_PASSWORD,
    V_PASSWORD + "_FILE",
    V_REFRESH_TOKEN,
    V_REFRESH_TOKEN + "_FILE",
    V_ASSERTION + "_FILE",
    V_SUBJECT_TOKEN + "_FILE",
    V_SUBJECT_TOKEN_TYPE,
    V_ACTOR_TOKEN + "_FILE",
    V_ACTOR_TOKEN_TYPE,
    V_REQUESTED_TOKEN_TYPE,
    V_EXTENSIONS,
    V_PRINCIPAL_CLAIM,
    V_REFRESH_FRACTION,
    V_REFRESH_JITTER,
    V_CLOCK_SKEW,
    V_TIMEOUT,
    V_DEADLINE,
    V_BACKOFF_BASE,
    V_BACKOFF_MAX,
    V_MAX_LIFETIME,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientSettings:
    """Everything needed to obtain a token. Immutable; validated on construction.

    Set exactly one endpoint source: ``token_url`` or ``issuer`` (RFC 8414 / OpenID
    discovery). ``auth_method`` is inferred when omitted: the verbatim ``authorization``
    header if given, else ``client_secret_basic`` with a secret, ``private_key_jwt`` with a
    key, ``tls_client_auth`` with a certificate, else ``none``. With an injected
    ``httpx.Client`` the TLS options (``ca_file``, ``cert_file``) are that client's business.

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
        self._check_endpoint()
        grant = _GRANTS.get(self.grant_type)
        if grant is None:
            raise ConfigurationError(
                V_GRANT,
                f"unsupported grant type {self.grant_type!r}; use client_credentials, password, "
                "refresh_token, jwt-bearer or token-exchange",
            )
        object.__setattr__(self, "grant_type", grant)
        self._check_grant()
        self._check_auth()
        for name, variable in (
            (self.cert_file, V_CERT_FILE),
            (self.key_file, V_KEY_FILE),
            (self.ca_file, V_CA_FILE),
        ):
            if name is not None and not os.path.isfile(name):
                raise ConfigurationError(variable, f"no such file: {name}")
        if self.key_file is not None and self.cert_file is None:
            raise ConfigurationError(V_CERT_FILE, f"is required with {V_KEY_FILE}")
        self._check_params()
        object.__setattr__(
            self, "sasl_extensions", validate_extensions(self.sasl_extensions, V_EXTENSIONS)
        )
        if not self.principal_claim:
            raise ConfigurationError(V_PRINCIPAL_CLAIM, "must not be empty")
        self._check_numbers()

    # --- checks ------------------------------------------------------------------------
    def _check_endpoint(self) -> None:
        if self.token_url is not None and self.issuer is not None:
            raise ConfigurationError(V_ISSUER, f"set either {V_ISSUER} or a token URL, not both")
        if self.token_url is None and self.issuer is None:
            raise ConfigurationError(
                V_SERVER,
                f"is required: set {V_SERVER} and {V_ENDPOINT}, or {V_TOKEN_URL}, or {V_ISSUER}",
            )
        for value, variable in ((self.token_url, self.endpoint_variable), (self.issuer, V_ISSUER)):
            if value is None:
                continue
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigurationError(variable, f"must be an http(s) URL, got {value!r}")
            if parts.username is not None or parts.password is not None:
                # Credentials in a URL end up in logs and proxies; they have their own settings.
                raise ConfigurationError(variable, "must not carry user:password@")
        if self.issuer is not None:
            parts = urlsplit(self.issuer)
            if parts.query or parts.fragment:
                # RFC 8414 §2: the issuer has no query or fragment component.
                raise ConfigurationError(V_ISSUER, "must not have a query or fragment")

    def _check_grant(self) -> None:
        if self.grant_type == GRANT_PASSWORD:
            if not self.username:
                raise ConfigurationError(V_USERNAME, "is required for the password grant")
            if self.password is None:
                raise ConfigurationError(V_PASSWORD, "is required for the password grant")
        elif self.grant_type == GRANT_REFRESH_TOKEN and self.refresh_token is None:
            raise ConfigurationError(V_REFRESH_TOKEN, "is required for the refresh_token grant")
        elif self.grant_type == GRANT_JWT_BEARER and self.assertion is None:
            raise ConfigurationError(
                V_ASSERTION + "_FILE", "is required for the jwt-bearer grant (RFC 7523 §2.1)"
            )
        elif self.grant_type == GRANT_TOKEN_EXCHANGE:
            if self.subject_token is None:
                raise ConfigurationError(
                    V_SUBJECT_TOKEN + "_FILE", "is required for token exchange (RFC 8693 §2.1)"
                )
            if not self.subject_token_type:
                raise ConfigurationError(V_SUBJECT_TOKEN_TYPE, "must not be empty")
            # RFC 8693 §2.1: actor_token_type is REQUIRED when actor_token is present.
            if self.actor_token is not None and not self.actor_token_type:
                raise ConfigurationError(
                    V_ACTOR_TOKEN_TYPE, f"is required with {V_ACTOR_TOKEN}_FILE (RFC 8693 §2.1)"
                )

    def _check_auth(self) -> None:
        method = self.auth_method or self._inferred_auth_method()
        if method not in AUTH_METHODS:
            raise ConfigurationError(
                V_AUTH_METHOD, f"must be one of {', '.join(AUTH_METHODS)}, got {method!r}"
            )
        object.__setattr__(self, "auth_method", method)
        if self.authorization is not None and method != "authorization_header":
            raise ConfigurationError(
                V_AUTHORIZATION, f"is sent verbatim, so it cannot be combined with {method}"
            )
        if method == "client_assertion" and self.client_assertion is None:
            raise ConfigurationError(
                V_CLIENT_ASSERTION + "_FILE", "is required for client_assertion"
            )
        if method == "authorization_header" and self.authorization is None:
            raise ConfigurationError(V_AUTHORIZATION, "is required for authorization_header")
        needs_id = method in (
            "client_secret_basic",
            "client_secret_post",
            "client_secret_jwt",
            "private_key_jwt",
            "tls_client_auth",
        )
        if needs_id and not self.client_id:
            raise ConfigurationError(V_CLIENT_ID, f"is required for {method}")
        if method in ("client_secret_basic", "client_secret_post", "client_secret_jwt") and (
            self.client_secret is None
        ):
            raise ConfigurationError(V_CLIENT_SECRET, f"is required for {method}")
        if method == "client_secret_jwt":
            alg = self.assertion_alg or "HS256"
            if alg not in _HMAC_ALGS:
                raise ConfigurationError(
                    V_ASSERTION_ALG, f"client_secret_jwt signs with {', '.join(_HMAC_ALGS)}"
                )
            object.__setattr__(self, "assertion_alg", alg)
        elif method == "private_key_jwt":
            if self.private_key is None:
                raise ConfigurationError(V_PRIVATE_KEY + "_FILE", "is required for private_key_jwt")
            alg = self.assertion_alg or "RS256"
            if alg not in _KEY_ALGS:
                raise ConfigurationError(
                    V_ASSERTION_ALG, f"private_key_jwt signs with {', '.join(_KEY_ALGS)}"
                )
            object.__setattr__(self, "assertion_alg", alg)
            _check_private_key(self.private_key, alg)
        elif method == "tls_client_auth" and self.cert_file is None:
            raise ConfigurationError(V_CERT_FILE, "is required for tls_client_auth (RFC 8705 §2)")

    def _inferred_auth_method(self) -> str:
        if self.authorization is not None:
            return "authorization_header"
        if self.client_secret is not None:
            return "client_secret_basic"
        if self.private_key is not None:
            return "private_key_jwt"
        if self.client_assertion is not None:
            return "client_assertion"
        if self.cert_file is not None:
            return "tls_client_auth"
        return "none"

    def _check_params(self) -> None:
        for key, _ in self.extra_params:
            if not key:
                raise ConfigurationError(V_EXTRA_PARAMS, "has a parameter without a name")
            if key in _RESERVED_PARAMS:
                raise ConfigurationError(
                    V_EXTRA_PARAMS, f"{key!r} is set by its own setting, not as an extra parameter"
                )
        for resource in self.resources:
            parts = urlsplit(resource)
            # RFC 8707 §2: an absolute URI without a fragment.
            if not parts.scheme or parts.fragment:
                raise ConfigurationError(
                    V_RESOURCE, f"must be absolute URIs without a fragment, got {resource!r}"
                )

    def _check_numbers(self) -> None:
        checks: tuple[tuple[float, str, float, float], ...] = (
            (self.refresh_fraction, V_REFRESH_FRACTION, 0.05, 0.95),
            (self.refresh_jitter, V_REFRESH_JITTER, 0.0, 0.2),
            (self.clock_skew, V_CLOCK_SKEW, 0.0, 600.0),
            # confluent-kafka waits 10 s for the first token (CONTRACT §6): stay well under.
            (self.timeout, V_TIMEOUT, 0.1, 6.0),
            (self.deadline, V_DEADLINE, 0.1, 600.0),
            (self.backoff_base, V_BACKOFF_BASE, 0.01, 60.0),
            (self.backoff_max, V_BACKOFF_MAX, 0.1, 3600.0),
            (self.max_lifetime, V_MAX_LIFETIME, 60.0, 31_536_000.0),
        )
        for value, variable, low, high in checks:
            if not low <= value <= high:
                raise ConfigurationError(variable, f"must be between {low} and {high}, got {value}")
        if self.refresh_fraction + self.refresh_jitter >= 1.0:
            raise ConfigurationError(
                V_REFRESH_JITTER, f"plus {V_REFRESH_FRACTION} must stay below 1"
            )

    # --- derived -----------------------------------------------------------------------
    def identity(self) -> tuple[Any, ...]:
        """Everything that shapes the token request; equal identities share one cache slot.

        Constant secrets take part by value (``Secret`` hashes its value, never shows it);
        file secrets by path, because their content may rotate under the same identity.
        """
        return (
            self.token_url,
            self.issuer,
            self.grant_type,
            self.scope,
            self.auth_method,
            self.client_id,
            _secret_identity(self.authorization),
            _secret_identity(self.client_secret),
            self.basic_form_encode,
            _secret_identity(self.private_key),
            self.key_id,
            self.assertion_alg,
            self.cert_file,
            self.key_file,
            self.ca_file,
            self.audience,
            self.resources,
            self.extra_params,
            self.username,
            _secret_identity(self.password),
            _secret_identity(self.refresh_token),
            _secret_identity(self.assertion),
            _secret_identity(self.subject_token),
            self.subject_token_type,
            _secret_identity(self.actor_token),
            self.actor_token_type,
            self.requested_token_type,
        )

    # --- construction from the environment ---------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ClientSettings:
        """Build settings from environment variables (``os.environ`` when ``None``).

        Example:
            >>> ClientSettings.from_env({"OAUTHBEARER_LOGIN_TOKEN_URL": "http://127.0.0.1:9/t",
            ...                          "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka"}).auth_method
            'none'
        """
        env = Env(os.environ if environ is None else environ)
        server = env.host_port(V_SERVER)
        token_url = env.url(V_TOKEN_URL)
        endpoint_variable = V_TOKEN_URL
        with_ssl = env.flag(V_WITH_SSL, default=True)
        if server is not None:
            if token_url is not None:
                raise ConfigurationError(V_TOKEN_URL, f"set either {V_TOKEN_URL} or {V_SERVER}")
            # Deviation from jairsjunior, which would POST to "https://host": a token endpoint
            # without a path is almost always a forgotten variable.
            endpoint = env.path(V_ENDPOINT)
            if endpoint is None:
                raise ConfigurationError(V_ENDPOINT, f"is required with {V_SERVER}")
            token_url = ("https://" if with_ssl else "http://") + server + endpoint
            endpoint_variable = V_SERVER
        elif env.text(V_ENDPOINT) is not None:
            raise ConfigurationError(V_SERVER, f"is required with {V_ENDPOINT}")
        azure = (
            workload_identity(env)
            if token_url is None and env.text(V_CLIENT_ASSERTION + "_FILE") is None
            else None
        )
        if azure is not None:
            token_url, endpoint_variable = azure.token_url, "AZURE_TENANT_ID"

        kwargs: dict[str, Any] = {}
        numbers = (
            ("refresh_fraction", V_REFRESH_FRACTION),
            ("refresh_jitter", V_REFRESH_JITTER),
            ("clock_skew", V_CLOCK_SKEW),
            ("timeout", V_TIMEOUT),
            ("deadline", V_DEADLINE),
            ("backoff_base", V_BACKOFF_BASE),
            ("backoff_max", V_BACKOFF_MAX),
            ("max_lifetime", V_MAX_LIFETIME),
        )
        defaults = cls.__dataclass_fields__
        for attr, variable in numbers:
            default = cast(float, defaults[attr].default)
            kwargs[attr] = env.number(variable, default=default)
        return cls(
            token_url=token_url,
            endpoint_variable=endpoint_variable,
            issuer=env.url(V_ISSUER),
            grant_type=env.text(V_GRANT, GRANT_CLIENT_CREDENTIALS) or GRANT_CLIENT_CREDENTIALS,
            scope=env.text(V_SCOPE),
            authorization=_authorization(env),
            client_id=env.text(V_CLIENT_ID) or (azure.client_id if azure else None),
            client_secret=env.secret(V_CLIENT_SECRET),
            auth_method=env.text(V_AUTH_METHOD, "") or "",
            basic_form_encode=env.flag(V_BASIC_FORM_ENCODE, default=True),
            private_key=_file_only(env, V_PRIVATE_KEY),
            client_assertion=(
                _file_only(env, V_CLIENT_ASSERTION) or (azure.assertion if azure else None)
            ),
            key_id=env.text(V_KEY_ID),
            assertion_alg=env.text(V_ASSERTION_ALG, "") or "",
            cert_file=env.text(V_CERT_FILE),
            key_file=env.text(V_KEY_FILE),
            ca_file=env.text(V_CA_FILE),
            audience=env.text(V_AUDIENCE),
            resources=tuple(env.csv(V_RESOURCE)),
            extra_params=_parse_params(env.text(V_EXTRA_PARAMS)),
            username=env.text(V_USERNAME),
            password=env.secret(V_PASSWORD),
            refresh_token=env.secret(V_REFRESH_TOKEN),
            assertion=_file_only(env, V_ASSERTION),
            subject_token=_file_only(env, V_SUBJECT_TOKEN),
            subject_token_type=env.text(V_SUBJECT_TOKEN_TYPE, TOKEN_TYPE_JWT) or TOKEN_TYPE_JWT,
            actor_token=_file_only(env, V_ACTOR_TOKEN),
            actor_token_type=env.text(V_ACTOR_TOKEN_TYPE),
            requested_token_type=env.text(V_REQUESTED_TOKEN_TYPE),
            sasl_extensions=parse_extensions(env.text(V_EXTENSIONS), V_EXTENSIONS),
            principal_claim=env.text(V_PRINCIPAL_CLAIM, "sub") or "sub",
            **kwargs,
        )


def need(value: _T | None, variable: str) -> _T:
    """``value``, or a ConfigurationError naming ``variable`` when it is missing.

    ClientSettings refuses missing values already; grants and client authentication call
    this so that their own constructors stay honest without ``assert``.
    """
    if value is None:
        raise ConfigurationError(variable, "is required")
    return value


def _authorization(env: Env) -> SecretSource | None:
    # OAUTH_AUTHORIZATION is jairsjunior's literal; its file twin is ours, hence our prefix.
    literal = env.text(V_AUTHORIZATION)
    path = env.text(V_AUTHORIZATION_FILE)
    if literal is not None and path is not None:
        raise ConfigurationError(
            V_AUTHORIZATION, f"set either {V_AUTHORIZATION} or {V_AUTHORIZATION_FILE}, not both"
        )
    if literal is not None:
        return Secret(literal)
    return _file_only(env, V_AUTHORIZATION_FILE.removesuffix("_FILE"))


def _file_only(env: Env, name: str) -> SecretSource | None:
    """Keys and grant assertions come from files only (they are mounted, and they rotate)."""
    path = env.text(name + "_FILE")
    if path is None:
        return None
    source = FileSecret(path, variable=name + "_FILE")
    source.reveal()  # fail at start-up, naming the variable, if unreadable
    return source


def _parse_params(text: str | None) -> tuple[tuple[str, str], ...]:
    if text is None:
        return ()
    try:
        return tuple(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    except ValueError:
        raise ConfigurationError(V_EXTRA_PARAMS, "must be form-encoded, like a=1&b=2") from None


def _secret_identity(source: SecretSource | None) -> object:
    if source is None:
        return None
    if isinstance(source, FileSecret):
        return ("file", str(source.path))
    if isinstance(source, Secret):
        return source
    return ("object", id(source))


def _check_private_key(source: SecretSource, alg: str) -> None:
    # Imported here: joserfc is only needed by private_key_jwt users.
    from joserfc.jwk import ECKey, RSAKey

    key_type = ECKey if alg.startswith("ES") else RSAKey
    problem = f"is not a PEM {key_type.key_type} private key for {alg}"
    try:
        key = key_type.import_key(source.reveal())
    except ConfigurationError:
        raise
    except Exception as exc:  # joserfc raises several unrelated types for bad PEM
        raise ConfigurationError(V_PRIVATE_KEY + "_FILE", problem) from exc
    if not key.is_private:
        raise ConfigurationError(V_PRIVATE_KEY + "_FILE", problem + " (it is a public key)")
