"""Who is asking: authentication of the brokers that call the introspection endpoint.

RFC 7662 §2.1: "the protected resource MUST authenticate itself to the introspection
endpoint" — an unauthenticated endpoint is an oracle that tells anyone which stolen
tokens still work. Accepted forms:

* ``Basic base64(id:secret)`` in the standard alphabet (jairsjunior sends the configured
  header verbatim) **and** the URL-safe alphabet with padding (Strimzi encodes with
  ``Base64.getUrlEncoder()``); padding is optional for robustness.
* ``Bearer <static token>`` (Strimzi's bearer option), from
  ``OAUTHBEARER_CALLER_BEARER_TOKENS``.
* nothing — only when ``OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS=true``. An empty header counts
  as nothing: jairsjunior sends its configured header even when it is empty.

Secrets are compared with :func:`hmac.compare_digest`; an unknown caller id is compared
against a dummy secret so the timing does not reveal which ids exist. A header that was
accepted is remembered, exactly as it was sent, for as long as the credentials it matched
are the current ones: a broker sends the same header on every request, and decoding and
comparing it each time was about 4 % of a cold decision and a quarter of a cache hit's
Python. Refusals are never remembered, and the memo is bounded (256 headers of 1 KiB).

Example:
    >>> from oauthbearer._secret import Secret
    >>> auth = CallerAuthenticator(callers=Secret("broker:s3cret"))
    >>> auth.authenticate("Basic YnJva2VyOnMzY3JldA==")
    'broker'
    >>> auth.authenticate("Basic YnJva2VyOndyb25n") is None
    True
"""

from __future__ import annotations

import binascii
import hmac
import logging
from base64 import b64decode

from oauthbearer._secret import SecretSource
from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.settings import parse_credentials

__all__ = ["ANONYMOUS", "CallerAuthenticator", "SharedSecretAuthenticator"]

logger = logging.getLogger("oauthbearer.sidecar.callers")

#: The caller id logged for requests served without credentials.
ANONYMOUS = "-anonymous-"

_DUMMY = b"\x00" * 32
#: Accepted headers remembered at most (a cluster's brokers, each with a header or two).
MAX_ACCEPTED_HEADERS = 256
#: Longer accepted headers are checked every time, not remembered: a caller padding its
#: header (whitespace is stripped before the check) must not make the memo hold megabytes.
MAX_REMEMBERED_HEADER = 1024
# bytes.translate table turning the URL-safe alphabet into the standard one.
_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")


class _Table:
    """Parsed credentials, re-parsed only when the source's text changes (file rotation).

    A rotation gone wrong — the file unreadable or malformed — keeps the last good table
    and logs the error once, naming the variable: turning every broker's login into a 500,
    or locking every broker out, would be worse than the old secret living a little longer.
    """

    __slots__ = ("_broken", "_raw", "_source", "_table", "_variable")

    def __init__(self, source: SecretSource, variable: str) -> None:
        self._source = source
        self._variable = variable
        self._raw: str | None = None
        self._broken: str | None = None  # the error last logged, so it is logged once
        self._table: dict[str, bytes] = {}

    def get(self) -> dict[str, bytes]:
        try:
            raw = self._source.reveal()
            if raw != self._raw:
                parsed = parse_credentials(self._variable, raw)
                self._table = {k: v.encode() for k, v in parsed.items()}
                self._raw = raw
            self._broken = None
        except ConfigurationError as exc:
            if str(exc) != self._broken:
                self._broken = str(exc)
                # No traceback: the message names the variable, which is all that is useful.
                logger.error("%s; keeping the previous credentials", exc)  # noqa: TRY400
        return self._table


class CallerAuthenticator:
    """Checks an ``Authorization`` header; returns the caller id or ``None`` (→ 401)."""

    __slots__ = ("_accepted", "_accepted_for", "_allow_anonymous", "_basic", "_bearer")

    def __init__(
        self,
        callers: SecretSource | None = None,
        bearer_tokens: SecretSource | None = None,
        *,
        allow_anonymous: bool = False,
        variable: str = "OAUTHBEARER_CALLERS",
    ) -> None:
        self._basic = _Table(callers, variable) if callers else None
        self._bearer = (
            _Table(bearer_tokens, "OAUTHBEARER_CALLER_BEARER_TOKENS") if bearer_tokens else None
        )
        self._allow_anonymous = allow_anonymous
        # Headers accepted against the tables in _accepted_for (compared by identity: a
        # _Table hands out a new dict whenever its credentials change, which empties this).
        self._accepted: dict[str, str] = {}
        self._accepted_for: tuple[object, object] = (None, None)

    def authenticate(self, header: str | None) -> str | None:
        """The caller id for this ``Authorization`` header value, or ``None`` if refused."""
        if header is None or not header.strip():
            return ANONYMOUS if self._allow_anonymous else None
        # Read per request, as before the memo: a rotated _FILE applies without a restart.
        basic = self._basic.get() if self._basic is not None else None
        bearer = self._bearer.get() if self._bearer is not None else None
        accepted = self._accepted
        if self._accepted_for[0] is not basic or self._accepted_for[1] is not bearer:
            accepted.clear()
            self._accepted_for = (basic, bearer)
        # A dict lookup compares the header with a remembered one only when their salted
        # hashes match, so how long it takes says nothing about the secret.
        caller = accepted.get(header)
        if caller is not None:
            return caller
        caller = self._check(header, basic, bearer)
        if caller is not None and len(header) <= MAX_REMEMBERED_HEADER:
            if len(accepted) >= MAX_ACCEPTED_HEADERS:
                accepted.clear()
            accepted[header] = caller
        return caller

    def why_refused(self, header: str | None) -> str:
        """Why :meth:`authenticate` refused ``header``, for the 401's log line (never sent).

        Names the caller id only when it is one of ours (from our own table, so no
        attacker's text and no secret pasted into the id by mistake reaches the log): an
        operator then sees which broker holds a stale secret.

        Example:
            >>> from oauthbearer._secret import Secret
            >>> auth = CallerAuthenticator(callers=Secret("broker:s3cret"))
            >>> auth.why_refused("Basic YnJva2VyOndyb25n")  # broker:wrong
            "wrong secret for caller 'broker'"
            >>> auth.why_refused("Basic c3RyYW5nZXI6eA==")  # stranger:x
            'unknown caller id'
        """
        if header is None or not header.strip():
            return "no credentials"
        scheme, _, credentials = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and self._basic is not None:
            decoded = _decode_basic(credentials.strip())
            if decoded is None or b":" not in decoded:
                return "malformed Basic credentials"
            ident = decoded.partition(b":")[0].decode("utf-8", "replace")
            if ident in self._basic.get():
                return f"wrong secret for caller {ident!r}"
            return "unknown caller id"
        if scheme == "bearer" and self._bearer is not None:
            return "unknown bearer token"
        # Never the scheme itself: a token sent without "Bearer " is its first word.
        if scheme == "basic":
            return "Basic credentials, and no Basic callers are configured"
        if scheme == "bearer":
            return "a bearer token, and no bearer callers are configured"
        return "an unsupported scheme"

    @staticmethod
    def _check(
        header: str, basic: dict[str, bytes] | None, bearer: dict[str, bytes] | None
    ) -> str | None:
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        scheme = scheme.lower()
        if scheme == "basic" and basic is not None:
            return _check_basic(basic, credentials)
        if scheme == "bearer" and bearer is not None:
            return _check_bearer(bearer, credentials)
        # Credentials were presented and are not acceptable: refuse even when anonymous
        # callers are allowed, so a misconfigured broker is noticed rather than waved on.
        return None


class SharedSecretAuthenticator:
    """Basic credentials with *any* user name and one shared password.

    The Keycloak event emitter authenticates as ``base64(<HOSTNAME>:<secret>)``: the user
    name is the Keycloak pod's host name (``keycloak-0``, ``keycloak-1``, …), which no
    caller table can list in advance. The password is compared in constant time; the
    user name is returned, for the logs.

    Example:
        >>> from oauthbearer._secret import Secret
        >>> auth = SharedSecretAuthenticator(Secret("fake-emitter-secret"))
        >>> auth.authenticate("Basic a2V5Y2xvYWstNzpmYWtlLWVtaXR0ZXItc2VjcmV0")
        'keycloak-7'
        >>> auth.authenticate("Basic a2V5Y2xvYWstNzp3cm9uZw==") is None
        True
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: SecretSource) -> None:
        self._secret = secret

    def authenticate(self, header: str | None) -> str | None:
        scheme, _, credentials = (header or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        decoded = _decode_basic(credentials.strip())
        if decoded is None:
            return None
        user, sep, password = decoded.partition(b":")
        # Read per request: a rotated _FILE applies without a restart. A secret that cannot
        # be read (a rotation truncated the file, it went missing) refuses everyone, and an
        # empty one can never match: "attacker:" must not pass for the emitter.
        try:
            expected = self._secret.reveal().encode()
        except ConfigurationError:
            return None
        ok = hmac.compare_digest(password, expected)
        # A blank secret (a file of spaces) can never match: " " let anyone in.
        if not (ok and sep and user and expected.strip()):
            return None
        return user.decode("utf-8", "replace")


def _check_basic(table: dict[str, bytes], credentials: str) -> str | None:
    decoded = _decode_basic(credentials)
    if decoded is None:
        return None
    ident, sep, secret = decoded.partition(b":")
    if not sep:
        return None
    try:
        ident_text = ident.decode("utf-8")
    except UnicodeDecodeError:
        return None
    expected = table.get(ident_text)
    ok = hmac.compare_digest(secret, expected if expected is not None else _DUMMY)
    return ident_text if ok and expected is not None else None


def _check_bearer(table: dict[str, bytes], credentials: str) -> str | None:
    presented = credentials.encode("utf-8", "replace")
    found: str | None = None
    # Compare against every token (no early exit) so timing says nothing about which.
    for ident, token in table.items():
        if hmac.compare_digest(presented, token) and found is None:
            found = ident
    return found


def _decode_basic(credentials: str) -> bytes | None:
    """Decode Basic credentials in either base64 alphabet, padding optional."""
    try:
        raw = credentials.encode("ascii")
    except UnicodeEncodeError:
        return None
    raw = raw.translate(_URLSAFE_TO_STD)
    raw += b"=" * (-len(raw) % 4)
    try:
        return b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None
