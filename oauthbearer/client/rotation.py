"""The refresh token in force for one request identity, whoever sends the next refresh.

RFC 6749 §6 lets the authorization server answer a refresh with a new refresh token, and
RFC 9700 §4.14.2 has it retire the old one (and, on reuse, revoke the whole family). The
current refresh token therefore belongs beside the cached access token, in the cache slot
that every provider built alike shares (:class:`~oauthbearer.client.token_cache.TokenSlot`)
and not in one provider's grant: any of them may lead the next refresh.

Example:
    >>> import threading
    >>> tokens = RefreshTokens(threading.Lock())
    >>> tokens.current("configured-1")
    'configured-1'
    >>> tokens.rotated("rotated-2"); tokens.current("configured-1")
    'rotated-2'
    >>> tokens.current("operator-wrote-3")  # a changed configuration wins over a rotation
    'operator-wrote-3'
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

__all__ = ["RefreshTokens"]


class RefreshTokens:
    """The configured refresh token and the latest one the server issued in its place.

    ``lock`` guards both: the owning slot's condition, so the rotation is read and written
    under the same lock as the token it came with (any lock for a standalone fetcher).
    Holds secrets: no repr of its values, ever.
    """

    __slots__ = ("_configured", "_lock", "_rotated")

    def __init__(self, lock: AbstractContextManager[Any]) -> None:
        self._lock = lock
        self._configured: str | None = None
        self._rotated: str | None = None

    def current(self, configured: str) -> str:
        """The refresh token to send, given the configured value as read just now.

        A configured value that changed since the last call (an operator rotated the
        mounted file) replaces any rotation: it starts a new family on purpose.
        """
        with self._lock:
            if configured != self._configured:
                self._configured, self._rotated = configured, None
            return self._rotated or configured

    def rotated(self, refresh_token: str) -> None:
        """The server issued ``refresh_token``: it replaces the one we sent, for everyone."""
        with self._lock:
            self._rotated = refresh_token

    def __repr__(self) -> str:
        return f"RefreshTokens(rotated={self._rotated is not None})"
