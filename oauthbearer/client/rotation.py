"""The refresh token in force for one request identity, whoever sends the next refresh.

RFC 6749 §6 lets the authorization server answer a refresh with a new refresh token, and
RFC 9700 §4.14.2 has it retire the old one (and, on reuse, revoke the whole family). The
current refresh token therefore belongs beside the cached access token, in the cache slot
that every provider built alike shares (:class:`~oauthbearer.client.token_cache.TokenSlot`)
and not in one provider's grant: any of them may lead the next refresh.

A refresh the fetcher gave up on at its deadline may still be answered, with the only
refresh token the server will accept from then on. Until that exchange ends (one more
budget at most, :class:`LateRotation`), the token we sent is not sent again: a reuse is
what RFC 9700 §4.14.2 has the server punish by revoking the whole family.

Example:
    >>> import threading
    >>> tokens = RefreshTokens(threading.Lock())
    >>> tokens.current("configured-1")
    'configured-1'
    >>> tokens.rotated("rotated-2"); tokens.current("configured-1")
    'rotated-2'
    >>> tokens.current("operator-wrote-3")  # a changed configuration wins over a rotation
    'operator-wrote-3'
    >>> late = LateRotation(tokens, "idp.example"); late.given_up()
    >>> try:
    ...     tokens.current("operator-wrote-3")
    ... except RefreshInFlight:
    ...     print("held back until the refresh given up on ends")
    held back until the refresh given up on ends
    >>> late.ended(None); tokens.current("operator-wrote-3")
    'operator-wrote-3'
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, suppress
from typing import TYPE_CHECKING, Any

from oauthbearer.client.token import issued_refresh_token, token_answer
from oauthbearer.errors import TokenRequestError, TokenResponseError

if TYPE_CHECKING:
    from oauthbearer.client.exchange import Answer

__all__ = ["LateRotation", "RefreshHeldBack", "RefreshInFlight", "RefreshTokens"]

logger = logging.getLogger("oauthbearer.client.rotation")


class RefreshHeldBack(TokenRequestError):
    """A refresh not sent because one given up on may still rotate the token.

    What :meth:`TokenFetcher.fetch` raises for :class:`RefreshInFlight`: a request error
    to its callers (retryable, nothing reached the server), but no failure of the
    endpoint, so the provider neither counts it towards its backoff nor waits long.
    """


class RefreshInFlight(Exception):
    """A refresh given up on may still rotate the token: the old one is not sent meanwhile."""

    def __init__(self) -> None:
        super().__init__(
            "a refresh that timed out may still be answered with a new refresh token; "
            "the one it sent is not sent again until it ends"
        )


class RefreshTokens:
    """The configured refresh token and the latest one the server issued in its place.

    ``lock`` guards both: the owning slot's condition, so the rotation is read and written
    under the same lock as the token it came with (any lock for a standalone fetcher).
    Holds secrets: no repr of its values, ever.
    """

    __slots__ = ("_awaited", "_configured", "_lock", "_rotated")

    def __init__(self, lock: AbstractContextManager[Any]) -> None:
        self._lock = lock
        self._configured: str | None = None
        self._rotated: str | None = None
        self._awaited = 0  # refreshes given up on whose answer may still come

    def current(self, configured: str) -> str:
        """The refresh token to send, given the configured value as read just now.

        A configured value that changed since the last call (an operator rotated the
        mounted file) replaces any rotation: it starts a new family on purpose. Otherwise,
        while a late answer is awaited, :class:`RefreshInFlight`.
        """
        with self._lock:
            if configured != self._configured:
                self._configured, self._rotated = configured, None
                return configured
            if self._awaited > 0:
                raise RefreshInFlight
            return self._rotated or configured

    def rotated(self, refresh_token: str) -> None:
        """The server issued ``refresh_token``: it replaces the one we sent, for everyone."""
        with self._lock:
            self._rotated = refresh_token

    def await_late(self) -> str | None:
        """A refresh was given up on: hold the token back; returns the configuration then."""
        with self._lock:
            self._awaited += 1
            return self._configured

    def late_ended(self, refresh_token: str | None, configured: str | None) -> None:
        """The refresh given up on ended, with ``refresh_token`` issued, or None.

        ``configured`` is what :meth:`await_late` returned: a token issued to a family the
        operator has replaced since must not overwrite the new family's.
        """
        with self._lock:
            self._awaited -= 1
            if refresh_token is not None and configured == self._configured:
                self._rotated = refresh_token

    def after_fork(self, lock: AbstractContextManager[Any]) -> None:
        """In a forked child: guarded by ``lock`` now; the parent's late answers will never
        arrive here, so none is awaited."""
        self._lock = lock
        self._awaited = 0

    def __repr__(self) -> str:
        return f"RefreshTokens(rotated={self._rotated is not None})"


class LateRotation:
    """A refresh exchange's :class:`~oauthbearer.client.exchange.LateAnswer`.

    Given up on, it holds ``tokens`` back (:class:`RefreshInFlight`); ended, it takes the
    refresh token a 2xx answer issued, if any, and lets ``tokens`` be sent again.
    """

    __slots__ = ("_configured", "_host", "_tokens")

    def __init__(self, tokens: RefreshTokens, endpoint_host: str) -> None:
        self._tokens = tokens
        self._host = endpoint_host
        self._configured: str | None = None

    def given_up(self) -> None:
        self._configured = self._tokens.await_late()

    def ended(self, answer: Answer | None) -> None:
        rotated = None
        try:
            if answer is not None and 200 <= answer.status < 300:
                # Not a token answer: nothing was issued that we could keep.
                with suppress(TokenResponseError):
                    payload = token_answer(answer.body, endpoint_host=self._host)
                    rotated = issued_refresh_token(payload)
        finally:  # whatever happened above, the token is not held back any longer
            self._tokens.late_ended(rotated, self._configured)
        if rotated is not None:
            logger.warning(
                "token endpoint %s answered a refresh after its deadline; the refresh token "
                "it issued replaces the one sent",
                self._host,
            )
