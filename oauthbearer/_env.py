"""Typed reading of environment variables, shared by both halves.

Every parse error is a :class:`~oauthbearer.errors.ConfigurationError` whose message starts
with the variable's name, so a misconfigured deployment fails at start-up saying exactly
which line of its manifest is wrong. The mapping is injected (never ``os.environ`` read at
import time), so tests pass a plain dict.

Booleans follow jairsjunior's kafka-oauth, whose names we mirror: only ``true`` (any case)
is true — but unlike the original we refuse values that are neither ``true`` nor ``false``
instead of silently reading them as false.

Example:
    >>> env = Env({"OAUTH_WITH_SSL": "False", "OAUTHBEARER_CACHE_TTL": "30"})
    >>> env.flag("OAUTH_WITH_SSL", default=True)
    False
    >>> env.number("OAUTHBEARER_CACHE_TTL", default=60.0, minimum=0)
    30.0
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import SplitResult, urlsplit

from oauthbearer._secret import FileSecret, Secret, SecretSource
from oauthbearer.errors import ConfigurationError

__all__ = ["IGNORED_SETTINGS", "Env", "header_value", "ignored_settings"]


#: jairsjunior's variables we read and deliberately do not honour, with what to do instead.
_IGNORED = {
    "OAUTH_ACCEPT_UNSECURE_SERVER": (
        "is ignored: oauthbearer always verifies TLS certificates (jairsjunior's trust-all "
        "for the whole JVM is not copied); trust a private CA with OAUTHBEARER_LOGIN_CA_FILE "
        "(client) or OAUTHBEARER_CA_FILE (the sidecar's upstream)"
    ),
}


#: Their names: read (to warn), never honoured.
IGNORED_SETTINGS = frozenset(_IGNORED)


def ignored_settings(environ: Mapping[str, str]) -> list[str]:
    """Warnings for jairsjunior settings that are set but not honoured here.

    An existing deployment switches without renaming anything; one that relied on such a
    setting must hear why it no longer applies, not find out from a TLS failure.

    Example:
        >>> print(*ignored_settings({"OAUTH_ACCEPT_UNSECURE_SERVER": "TRUE"}))
        ... # doctest: +ELLIPSIS
        OAUTH_ACCEPT_UNSECURE_SERVER=true is ignored: oauthbearer always verifies TLS ...
        >>> ignored_settings({"OAUTH_ACCEPT_UNSECURE_SERVER": "false"})
        []
    """
    return [
        f"{name}=true {why}"
        for name, why in _IGNORED.items()
        if (environ.get(name) or "").strip().lower() == "true"
    ]


class Env:
    """A read-only view of an environment with typed, validating getters.

    Empty values count as unset: Kubernetes and compose files often carry ``VAR=``.
    """

    __slots__ = ("_environ",)

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ

    @property
    def environ(self) -> Mapping[str, str]:
        """The variables this view reads (for a reader of another half's settings)."""
        return self._environ

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._environ.get(name)
        if value is None or value.strip() == "":
            return default
        return value.strip()

    def required(self, name: str, why: str = "") -> str:
        value = self.text(name)
        if value is None:
            raise ConfigurationError(name, "is required" + (f" ({why})" if why else ""))
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise ConfigurationError(name, f"must be true or false, got {value!r}")

    def integer(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigurationError(name, f"must be an integer, got {value!r}") from None
        _check_range(name, number, minimum, maximum)
        return number

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self.text(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigurationError(name, f"must be a number, got {value!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConfigurationError(name, f"must be a finite number, got {value!r}")
        _check_range(name, number, minimum, maximum)
        return number

    def csv(self, name: str, sep: str = ",") -> list[str]:
        value = self.text(name)
        if value is None:
            return []
        return [item.strip() for item in value.split(sep) if item.strip()]

    def url(self, name: str, default: str | None = None) -> str | None:
        """An absolute http(s) URL, or ``default`` when unset."""
        value = self.text(name, default)
        if value is None:
            return None
        parts = split_url(name, value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            # Not quoted: a URL may carry credentials (user:password@, ?access_token=).
            raise ConfigurationError(name, f"must be an http(s) URL, got {parts.scheme!r}://…")
        return value

    def host_port(self, name: str) -> str | None:
        """jairsjunior's ``*_SERVER`` shape: ``host[:port]``, without a scheme.

        A path prefix may follow (``idp:8080/auth``, an old Keycloak's context root):
        jairsjunior builds the URL as scheme + SERVER + ENDPOINT, so such a value works
        there and must work here. A trailing ``/`` is dropped (the endpoint brings one).
        """
        value = self.text(name)
        if value is None:
            return None
        # The value is not quoted: "admin:password@idp" is one of the shapes refused.
        shape = "must be host[:port] (optionally /path-prefix) without a scheme or user@"
        if not value.isprintable() or any(c.isspace() for c in value):
            raise ConfigurationError(name, shape)
        if "://" in value or any(c in value for c in " ?#@\\"):
            raise ConfigurationError(name, shape)
        try:
            parts = urlsplit("https://" + value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not one
        except ValueError:
            raise ConfigurationError(name, shape) from None
        if not parts.hostname:
            raise ConfigurationError(name, shape)
        return value.rstrip("/")

    def path(self, name: str) -> str | None:
        value = self.text(name)
        if value is None:
            return None
        if not value.isprintable() or any(c.isspace() for c in value):
            # A CR/LF or tab passed here and made every upstream call a 500 (InvalidURL).
            raise ConfigurationError(
                name, "must be a URL path, without spaces or control characters"
            )
        return value if value.startswith("/") else "/" + value

    def secret(self, name: str) -> SecretSource | None:
        """A secret from ``NAME`` or from the file named by ``NAME_FILE`` (not both).

        A file secret is re-read when the file changes, so rotated Kubernetes Secrets
        take effect without a restart.
        """
        literal = self._environ.get(name)
        if literal is not None and not literal.strip():
            # Blank counts as unset, as for every other variable: a password of " " was
            # taken as set, and anyone could authenticate with it.
            literal = None
        file_var = name + "_FILE"
        path = self.text(file_var)
        if literal and path:
            raise ConfigurationError(name, f"set either {name} or {file_var}, not both")
        if path:
            source = FileSecret(path, variable=file_var)
            source.reveal()  # fail at start-up, naming the variable, if unreadable
            return source
        if literal:
            return Secret(literal)
        return None

    def names(self, prefix: str) -> list[str]:
        """Every set variable that starts with ``prefix`` (for unknown-name warnings)."""
        return sorted(k for k in self._environ if k.startswith(prefix))


def split_url(variable: str, value: str) -> SplitResult:
    """``urlsplit(value)`` for a URL read from ``variable``, checked as far as it can be
    without a request: brackets, port, no spaces or control characters.

    A URL that could not be used failed later, at the first fetch (a bad port, a NUL,
    a space in the host), or at start-up with a bare ``ValueError`` naming nothing
    (``https://[::1/t``). The value is not quoted: it may carry credentials.

    Example:
        >>> split_url("OAUTHBEARER_LOGIN_TOKEN_URL", "https://idp.example:8443/t").port
        8443
        >>> try:
        ...     split_url("OAUTHBEARER_LOGIN_TOKEN_URL", "https://[::1/t")
        ... except ConfigurationError as exc:
        ...     print(exc)
        OAUTHBEARER_LOGIN_TOKEN_URL: not a usable URL (Invalid IPv6 URL)
    """
    try:
        return checked_url(value)
    except ValueError as exc:
        raise ConfigurationError(variable, f"not a usable URL ({exc})") from None


def checked_url(value: str) -> SplitResult:
    """``urlsplit(value)`` with its port read; :class:`ValueError` for brackets that do
    not close, a port that is none, spaces or control characters (the checks of
    :func:`split_url`, for a URL that does not come from a variable)."""
    if not value.isprintable() or any(c.isspace() for c in value):
        raise ValueError("spaces or control characters")
    parts = urlsplit(value)
    parts.port  # noqa: B018 - raises ValueError for a port that is not one
    return parts


def _check_range(name: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ConfigurationError(name, f"must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigurationError(name, f"must be at most {maximum}, got {number}")


def header_value(variable: str, value: str) -> str:
    """``value`` if HTTP can carry it as a header; else a :class:`ConfigurationError` naming
    ``variable``, and never the value (it is a credential).

    ``base64`` wraps its output at 76 characters, so ``Basic $(echo -n id:secret | base64)``
    holds a line break once the credentials are long; a copied non-breaking space is not
    ASCII. Either would be refused by the HTTP library with the value in its message.

    Example:
        >>> header_value("OAUTH_AUTHORIZATION", "Basic YTpi")
        'Basic YTpi'
        >>> header_value("OAUTH_AUTHORIZATION", "Basic YTpi\\nYw==")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        oauthbearer.errors.ConfigurationError: OAUTH_AUTHORIZATION: holds a line break ...
    """
    if "\r" in value or "\n" in value:
        problem = "a line break (write the base64 on one line: base64 -w0)"
    elif not all(" " <= c <= "~" or c == "\t" for c in value):
        problem = "a character that is not printable ASCII"
    elif not value.strip(" \t"):
        raise ConfigurationError(variable, "is blank")
    else:
        # Spaces around it are not part of a header value (RFC 9110 §5.5): sent as they
        # were, the HTTP library refused every request (a 503 per introspection).
        return value.strip(" \t")
    raise ConfigurationError(variable, f"holds {problem}; an HTTP header cannot carry it")
