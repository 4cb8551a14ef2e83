"""The form parameters of each grant, built afresh for every request.

Files (a projected service-account token, a rotated refresh token) are read at request
time through :class:`~oauthbearer._secret.FileSecret`, which re-reads them when they change.

Example:
    >>> from oauthbearer.client.settings import ClientSettings
    >>> s = ClientSettings(token_url="https://idp.example/token", scope="kafka",
    ...                    audience="urn:kafka", resources=("https://kafka.example",))
    >>> grant_for(s).params()
    [('grant_type', 'client_credentials'), ('scope', 'kafka'), ('audience', 'urn:kafka'), \
('resource', 'https://kafka.example')]
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from oauthbearer.client.rotation import LateRotation, RefreshTokens
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.settings import need as _need
from oauthbearer.client.validation import (
    GRANT_CLIENT_CREDENTIALS,
    GRANT_JWT_BEARER,
    GRANT_PASSWORD,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
)
from oauthbearer.client.variables import (
    V_ASSERTION,
    V_PASSWORD,
    V_REFRESH_TOKEN,
    V_SUBJECT_TOKEN,
    V_USERNAME,
)

if TYPE_CHECKING:
    from oauthbearer.client.exchange import LateAnswer

__all__ = ["Grant", "grant_for"]

Params = list[tuple[str, str]]


class Grant(Protocol):
    """Produces the grant's form parameters; sees each issued token."""

    def params(self) -> Params:
        """The body parameters for one token request, in a stable order."""
        ...

    def refresh_token_issued(self, refresh_token: str) -> None:
        """Called with every ``refresh_token`` an answer carries (lets rotation be followed)."""
        ...

    def late_answer(self, endpoint_host: str) -> LateAnswer | None:
        """What takes a request's answer if it comes after the caller gave up, if needed."""
        ...


class _Grant:
    """Common parameters: scope (RFC 6749 §3.3), audience, resource (RFC 8707 §2), extras."""

    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings

    def specific(self) -> Params:
        return []

    def params(self) -> Params:
        s = self._settings
        out: Params = [("grant_type", s.grant_type), *self.specific()]
        if s.scope:
            out.append(("scope", s.scope))
        if s.audience:
            out.append(("audience", s.audience))
        # RFC 8707 §2: several resource parameters may be sent, one per target service.
        out.extend(("resource", r) for r in s.resources)
        out.extend(s.extra_params)
        return out

    def refresh_token_issued(self, refresh_token: str) -> None:
        """Most grants have no use for a refresh token."""

    def late_answer(self, endpoint_host: str) -> LateAnswer | None:
        """Most grants lose nothing with an answer that came too late."""
        return None


class ClientCredentials(_Grant):
    """RFC 6749 §4.4.2: ``grant_type=client_credentials`` plus the common parameters."""


class Password(_Grant):
    """RFC 6749 §4.3.2: resource owner password credentials."""

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self._username = _need(settings.username, V_USERNAME)
        self._password = _need(settings.password, V_PASSWORD)

    def specific(self) -> Params:
        return [("username", self._username), ("password", self._password.reveal())]


class RefreshToken(_Grant):
    """RFC 6749 §6, following refresh-token rotation (RFC 9700 §4.14.2).

    A new ``refresh_token`` in an answer replaces the configured one, in ``refresh_tokens``
    (the cache slot's, shared by every provider configured alike). If the configured file
    changes afterwards (an operator rotated it), the file wins again.
    """

    def __init__(self, settings: ClientSettings, refresh_tokens: RefreshTokens) -> None:
        super().__init__(settings)
        self._source = _need(settings.refresh_token, V_REFRESH_TOKEN)
        self._tokens = refresh_tokens

    def specific(self) -> Params:
        return [("refresh_token", self._tokens.current(self._source.reveal()))]

    def refresh_token_issued(self, refresh_token: str) -> None:
        self._tokens.rotated(refresh_token)

    def late_answer(self, endpoint_host: str) -> LateAnswer | None:
        # The server may have retired the token we sent: its successor must not be lost.
        return LateRotation(self._tokens, endpoint_host)


class JwtBearer(_Grant):
    """RFC 7523 §2.1: ``assertion`` is a JWT read from a file on every request."""

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self._assertion = _need(settings.assertion, V_ASSERTION + "_FILE")

    def specific(self) -> Params:
        return [("assertion", self._assertion.reveal())]


class TokenExchange(_Grant):
    """RFC 8693 §2.1: exchange a subject token (read from a file) for an access token."""

    def __init__(self, settings: ClientSettings) -> None:
        super().__init__(settings)
        self._subject = _need(settings.subject_token, V_SUBJECT_TOKEN + "_FILE")

    def specific(self) -> Params:
        s = self._settings
        out: Params = [
            ("subject_token", self._subject.reveal()),
            ("subject_token_type", s.subject_token_type),
        ]
        if s.actor_token is not None and s.actor_token_type:
            out += [
                ("actor_token", s.actor_token.reveal()),
                ("actor_token_type", s.actor_token_type),
            ]
        if s.requested_token_type:
            out.append(("requested_token_type", s.requested_token_type))
        return out


_BY_TYPE: dict[str, type[_Grant]] = {
    GRANT_CLIENT_CREDENTIALS: ClientCredentials,
    GRANT_PASSWORD: Password,
    GRANT_JWT_BEARER: JwtBearer,
    GRANT_TOKEN_EXCHANGE: TokenExchange,
}


def grant_for(settings: ClientSettings, refresh_tokens: RefreshTokens | None = None) -> Grant:
    """The grant object for ``settings.grant_type`` (validated by the settings).

    ``refresh_tokens``: where the refresh_token grant keeps the current (rotated) refresh
    token; a private one when None (a standalone fetcher with no cache slot).
    """
    if settings.grant_type == GRANT_REFRESH_TOKEN:
        store = RefreshTokens(threading.Lock()) if refresh_tokens is None else refresh_tokens
        return RefreshToken(settings, store)
    return _BY_TYPE[settings.grant_type](settings)
