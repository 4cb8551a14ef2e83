"""Every exception oauthbearer raises, under one root.

The tree::

    OAuthBearerError
     ├── ConfigurationError          a setting is missing or malformed; names the variable
     ├── MissingExtra                a command needs an optional dependency not installed
     ├── TokenError                  the client half could not produce a token
     │    ├── TokenRequestError      network failure or timeout talking to the token endpoint
     │    ├── TokenEndpointError     the endpoint answered with an error (RFC 6749 §5.2)
     │    └── TokenResponseError     the endpoint answered 2xx with something unusable
     ├── IntrospectionError          the sidecar could not reach a verdict
     │    └── UpstreamUnavailable    upstream introspection failed or timed out (→ HTTP 503)
     └── TrustChainError             a token carried in a record or a request was not accepted
          ├── TokenMissing           no token header, several, or not a well-formed token
          └── TokenRejected          verification failed; ``reason`` says which check

Third-party exceptions (httpx, joserfc) are translated at exactly one boundary per
half with ``raise … from exc``, so callers only ever catch these. No message here ever
carries a token, a secret or an Authorization header.

Example:
    >>> from oauthbearer.errors import ConfigurationError
    >>> str(ConfigurationError("OAUTH_LOGIN_SERVER", "must be host[:port] without a scheme"))
    'OAUTH_LOGIN_SERVER: must be host[:port] without a scheme'
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "IntrospectionError",
    "MissingExtra",
    "OAuthBearerError",
    "TokenEndpointError",
    "TokenError",
    "TokenMissing",
    "TokenRejected",
    "TokenRequestError",
    "TokenResponseError",
    "TrustChainError",
    "UpstreamUnavailable",
]


class OAuthBearerError(Exception):
    """Root of every exception raised by oauthbearer."""


class ConfigurationError(OAuthBearerError, ValueError):
    """A setting is missing or malformed. ``variable`` names it (an env var or argument)."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


class MissingExtra(OAuthBearerError):
    """A feature needs an optional dependency group (a pip "extra") that is not installed.

    Example:
        >>> str(MissingExtra("sidecar", "uvicorn"))
        "needs the sidecar extra (uvicorn is not installed): pip install 'oauthbearer[sidecar]'"
    """

    def __init__(self, extra: str, module: str | None) -> None:
        missing = f" ({module} is not installed)" if module else ""
        super().__init__(f"needs the {extra} extra{missing}: pip install 'oauthbearer[{extra}]'")
        self.extra = extra


class TokenError(OAuthBearerError):
    """The token provider could not produce a usable access token."""


class TokenRequestError(TokenError):
    """The token endpoint could not be reached (connection error, TLS error, timeout).

    ``timed_out``: the server was reached but did not answer in time (it is there, only
    slow), as opposed to not being reached at all.
    """

    def __init__(self, endpoint_host: str, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(f"token request to {endpoint_host} failed: {reason}")
        self.endpoint_host = endpoint_host
        self.reason = reason
        self.timed_out = timed_out


class TokenEndpointError(TokenError):
    """The token endpoint answered with an error status (RFC 6749 §5.2 fields when present).

    ``retry_after`` is the server's ``Retry-After`` in seconds when it sent one.
    """

    def __init__(
        self,
        endpoint_host: str,
        status: int,
        error: str | None = None,
        error_description: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        detail = f"HTTP {status}"
        if error:
            detail += f" error={error}"
        if error_description:
            detail += f" error_description={error_description!r}"
        super().__init__(f"token endpoint {endpoint_host} refused: {detail}")
        self.endpoint_host = endpoint_host
        self.status = status
        self.error = error
        self.error_description = error_description
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """5xx and 429 are worth retrying; 4xx means the request itself is wrong."""
        return self.status >= 500 or self.status == 429


class TokenResponseError(TokenError):
    """A 2xx token response that cannot be used (no token, nonsense expiry, not JSON)."""


class IntrospectionError(OAuthBearerError):
    """The sidecar could not reach a verdict about a token."""


class UpstreamUnavailable(IntrospectionError):
    """Upstream introspection failed or timed out. Answered as 503, never cached."""


class TrustChainError(OAuthBearerError):
    """A token carried in a Kafka record (or an HTTP request) was not accepted.

    Raised by ``oauthbearer.trustchain``. When the verifier itself cannot reach a verdict
    (JWKS or introspection endpoint down) :class:`UpstreamUnavailable` is raised instead:
    that record is not bad, it should be retried, not dropped.
    """


class TokenMissing(TrustChainError):
    """No token where one was expected, several of them, or one that is not a token."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class TokenRejected(TrustChainError):
    """The token failed verification. ``reason`` is one stable word for logs and metrics.

    Reasons: ``signature``, ``issuer``, ``audience``, ``expired``, ``not_yet_valid``,
    ``inactive`` (introspection said no), ``malformed``, ``too_old`` (record past its
    maximum age). ``fingerprint`` is a short SHA-256 label of the token, never the token.
    """

    def __init__(self, reason: str, detail: str, *, fingerprint: str | None = None) -> None:
        label = f"token {fingerprint}" if fingerprint else "token"
        super().__init__(f"{label} refused ({reason}): {detail}")
        self.reason = reason
        self.detail = detail
        self.fingerprint = fingerprint
