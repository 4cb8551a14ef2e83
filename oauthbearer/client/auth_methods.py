"""Client authentication at the token endpoint: the methods, which one applies, and
what each needs, checked when :class:`~oauthbearer.client.settings.ClientSettings` is
built (the requests themselves are made in :mod:`oauthbearer.client.client_auth`).

Without ``OAUTHBEARER_LOGIN_AUTH_METHOD`` the method follows from what is configured:
a verbatim ``OAUTH_AUTHORIZATION`` header, else a client secret (HTTP Basic), else a
private key (``private_key_jwt``), else a ready-made client assertion, else a client
certificate (``tls_client_auth``), else none.

Example:
    >>> from oauthbearer._secret import Secret
    >>> from oauthbearer.client.settings import ClientSettings
    >>> ClientSettings(token_url="https://idp/t", client_id="app",
    ...                client_secret=Secret("s3cret")).auth_method
    'client_secret_basic'
    >>> try:
    ...     ClientSettings(token_url="https://idp/t", auth_method="client_secret_post")
    ... except ConfigurationError as exc:
    ...     print(exc.variable)
    OAUTHBEARER_LOGIN_CLIENT_ID
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oauthbearer._env import header_value
from oauthbearer.client.variables import (
    V_ASSERTION_ALG,
    V_AUTH_METHOD,
    V_AUTHORIZATION,
    V_CERT_FILE,
    V_CLIENT_ASSERTION,
    V_CLIENT_ID,
    V_CLIENT_SECRET,
    V_PRIVATE_KEY,
)
from oauthbearer.errors import ConfigurationError

if TYPE_CHECKING:
    from joserfc.jwk import ECKey, RSAKey

    from oauthbearer.client.settings import ClientSettings

__all__ = ["AUTH_METHODS", "auth_method", "private_signing_key"]

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


def auth_method(s: ClientSettings) -> tuple[str, str]:
    """The client authentication method (given or inferred) and its assertion algorithm
    (``""`` for methods that sign nothing), once everything the method needs is there."""
    method = s.auth_method or _inferred_auth_method(s)
    if method not in AUTH_METHODS:
        raise ConfigurationError(
            V_AUTH_METHOD, f"must be one of {', '.join(AUTH_METHODS)}, got {method!r}"
        )
    if s.authorization is not None and method != "authorization_header":
        raise ConfigurationError(
            V_AUTHORIZATION, f"is sent verbatim, so it cannot be combined with {method}"
        )
    if s.authorization is not None:
        header_value(V_AUTHORIZATION, s.authorization.reveal())
        if s.client_secret is not None:
            # It would be ignored: the header is the whole client authentication.
            raise ConfigurationError(
                V_CLIENT_SECRET, f"is not used when {V_AUTHORIZATION} is set; set one of them"
            )
    if method == "client_assertion" and s.client_assertion is None:
        raise ConfigurationError(V_CLIENT_ASSERTION + "_FILE", "is required for client_assertion")
    if method == "authorization_header" and s.authorization is None:
        raise ConfigurationError(V_AUTHORIZATION, "is required for authorization_header")
    needs_id = method in (
        "client_secret_basic",
        "client_secret_post",
        "client_secret_jwt",
        "private_key_jwt",
        "tls_client_auth",
    )
    if needs_id and not s.client_id:
        raise ConfigurationError(V_CLIENT_ID, f"is required for {method}")
    if method in ("client_secret_basic", "client_secret_post", "client_secret_jwt") and (
        s.client_secret is None
    ):
        raise ConfigurationError(V_CLIENT_SECRET, f"is required for {method}")
    alg = s.assertion_alg
    if method == "client_secret_jwt":
        alg = alg or "HS256"
        if alg not in _HMAC_ALGS:
            raise ConfigurationError(
                V_ASSERTION_ALG, f"client_secret_jwt signs with {', '.join(_HMAC_ALGS)}"
            )
    elif method == "private_key_jwt":
        if s.private_key is None:
            raise ConfigurationError(V_PRIVATE_KEY + "_FILE", "is required for private_key_jwt")
        if alg and alg not in _KEY_ALGS:
            raise ConfigurationError(
                V_ASSERTION_ALG, f"private_key_jwt signs with {', '.join(_KEY_ALGS)}"
            )
        alg = private_signing_key(s.private_key.reveal(), alg)[1]
    elif method == "tls_client_auth" and s.cert_file is None:
        raise ConfigurationError(V_CERT_FILE, "is required for tls_client_auth (RFC 8705 §2)")
    return method, alg


def _inferred_auth_method(s: ClientSettings) -> str:
    if s.authorization is not None:
        return "authorization_header"
    if s.client_secret is not None:
        return "client_secret_basic"
    if s.private_key is not None:
        return "private_key_jwt"
    if s.client_assertion is not None:
        return "client_assertion"
    if s.cert_file is not None:
        return "tls_client_auth"
    return "none"


#: The one ES algorithm each curve signs with (RFC 7518 §3.4).
_CURVE_ALGS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def private_signing_key(material: str, alg: str) -> tuple[RSAKey | ECKey, str]:
    """The private key in PEM ``material`` and the algorithm it signs with: ``alg``, or
    when empty the one its type implies (RS256 for RSA, the curve's for EC).

    A key that cannot sign ``alg`` is a :class:`ConfigurationError` naming the key file,
    here and not at the first request (a P-384 key with ES256 used to fail every fetch with
    joserfc's own error, outside the client's error tree).

    Example:
        >>> from joserfc.jwk import ECKey
        >>> pem = ECKey.generate_key("P-384").as_pem(private=True).decode()
        >>> private_signing_key(pem, "")[1]
        'ES384'
        >>> try:
        ...     private_signing_key(pem, "ES256")
        ... except ConfigurationError as exc:
        ...     print(exc.message.split(" (")[0])
        is an EC key on P-384, which signs ES384, not ES256
    """
    # Imported here: joserfc is only needed by private_key_jwt users.
    from joserfc.jwk import ECKey, RSAKey

    variable = V_PRIVATE_KEY + "_FILE"
    key: RSAKey | ECKey | None = None
    for key_type in (RSAKey, ECKey):
        try:
            key = key_type.import_key(material)
            break
        except Exception:  # noqa: BLE001, S112 - joserfc raises several unrelated types
            continue
    if key is None:
        raise ConfigurationError(variable, "is not a PEM RSA or EC private key")
    if not key.is_private:
        raise ConfigurationError(
            variable, "is a public key; private_key_jwt signs with the private one"
        )
    if isinstance(key, ECKey):
        curve = key.curve_name
        fits = _CURVE_ALGS.get(curve)
        if fits is None:
            raise ConfigurationError(
                variable, f"is an EC key on {curve}, which no ES algorithm uses"
            )
        if alg and alg != fits:
            raise ConfigurationError(
                variable,
                f"is an EC key on {curve}, which signs {fits}, not {alg} ({V_ASSERTION_ALG})",
            )
        return key, fits
    if alg.startswith("ES"):
        raise ConfigurationError(
            variable, f"is an RSA key, which cannot sign {alg} ({V_ASSERTION_ALG})"
        )
    return key, alg or "RS256"
