"""Downstream calls as the user: forward the verified token, or exchange it (RFC 8693).

Both auths take :class:`VerifiedClaims` — what :func:`verify_record` returns — and never a
bare string, so a token that was not verified cannot be forwarded by mistake.

* :class:`BearerAuth` sends the token as is (RFC 6750 §2.1). The downstream service must
  accept its audience.
* :class:`ExchangeAuth` trades it at the token endpoint for a fresh token meant for the
  downstream service (RFC 8693 §2.1: ``subject_token`` = the user's token, ``audience`` /
  ``resource`` = the downstream), using the client half's settings, grants, client
  authentication and fetcher. ``when="expiring"`` forwards the token while it has more
  than ``min_remaining`` seconds left and exchanges only after. Whether an authorization
  server exchanges an *expired* subject token is its policy; many refuse (``invalid_grant``).

Example:
    >>> import httpx
    >>> from oauthbearer.trustchain.claims import VerifiedClaims
    >>> auth = BearerAuth(VerifiedClaims({"sub": "alice"}, token="eyJ.x.y"))
    >>> def api(request):
    ...     return httpx.Response(200, text=request.headers["Authorization"])
    >>> httpx.Client(transport=httpx.MockTransport(api), auth=auth).get("http://api/").text
    'Bearer eyJ.x.y'
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Literal

import httpx

from oauthbearer._numeric_date import numeric_date
from oauthbearer._secret import Secret
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.http_clients import ClientSource, FixedClient, ReloadingClient
from oauthbearer.client.settings import GRANT_TOKEN_EXCHANGE, ClientSettings
from oauthbearer.client.tls_files import TlsFiles
from oauthbearer.client.token import Token
from oauthbearer.trustchain.claims import VerifiedClaims

__all__ = ["TOKEN_TYPE_ACCESS_TOKEN", "BearerAuth", "ExchangeAuth", "TokenExchanger"]

Clock = Callable[[], float]

#: RFC 8693 §3: the subject is an OAuth 2.0 access token.
TOKEN_TYPE_ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN


def _bearer(request: httpx.Request, token: str) -> httpx.Request:
    request.headers["Authorization"] = f"Bearer {token}"
    return request


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <the verified token>`` on every request."""

    def __init__(self, verified: VerifiedClaims) -> None:
        if not isinstance(verified, VerifiedClaims):
            raise TypeError("BearerAuth forwards verified tokens only: pass VerifiedClaims")
        self._verified = verified

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield _bearer(request, self._verified.token)

    def __repr__(self) -> str:
        return f"BearerAuth(fingerprint={self._verified.fingerprint!r})"


class TokenExchanger:
    """Exchanges verified user tokens for downstream tokens (RFC 8693), with a small cache.

    ``settings`` describe *this* service as an OAuth client (token endpoint, client
    authentication) and the downstream target (``audience``, ``resources``, ``scope``);
    any ``grant_type`` there is replaced by token exchange. Exchanged tokens are cached by
    the subject token's fingerprint until ``min_remaining`` seconds before expiry.
    ``http_client`` is the test seam. Thread-safe.

    Example:
        >>> import httpx
        >>> from oauthbearer.client.settings import ClientSettings
        >>> def idp(request):
        ...     return httpx.Response(200, json={"access_token": "down", "expires_in": 300})
        >>> x = TokenExchanger(ClientSettings(token_url="https://idp/t", audience="urn:api"),
        ...                    http_client=httpx.Client(transport=httpx.MockTransport(idp)))
        >>> x.exchange(VerifiedClaims({"sub": "alice"}, token="user")).access_token
        'down'
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        subject_token_type: str = TOKEN_TYPE_ACCESS_TOKEN,
        http_client: httpx.Client | None = None,
        clock: Clock = time.time,
        min_remaining: float = 30.0,
        cache_size: int = 1024,
    ) -> None:
        self._settings = settings
        self._subject_token_type = subject_token_type
        # One source for every per-subject fetcher: built from the settings, it follows
        # renewed TLS files (tls_client_auth) as the client half's own fetcher does; a
        # caller's client is used as it is.
        self._http: ClientSource = (
            ReloadingClient(TlsFiles.of(settings), timeout=settings.timeout)
            if http_client is None
            else FixedClient(http_client)
        )
        self._clock = clock
        self._min_remaining = min_remaining
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, Token] = OrderedDict()
        self._lock = threading.Lock()

    def exchange(self, subject: VerifiedClaims) -> Token:
        """A downstream token for ``subject`` (cached, or fetched now).

        Raises the client half's errors: :class:`~oauthbearer.errors.TokenEndpointError`
        (e.g. ``invalid_grant`` for a subject the server will not exchange),
        :class:`~oauthbearer.errors.TokenRequestError`, ...
        """
        # The whole SHA-256, not the 48-bit fingerprint logs use: this cache hands out
        # authorization, and a collision would give one user another's downstream token.
        key = hashlib.sha256(subject.token.encode()).digest()
        now = self._clock()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.remaining(now) > self._min_remaining:
                self._cache.move_to_end(key)
                return cached
        # The settings are rebuilt per subject (validation included): the subject token
        # is a per-call value, while the client half's grant reads it from a SecretSource.
        settings = dataclasses.replace(
            self._settings,
            grant_type=GRANT_TOKEN_EXCHANGE,
            subject_token=Secret(subject.token),
            subject_token_type=self._subject_token_type,
        )
        token = TokenFetcher(settings, http_source=self._http, clock=self._clock).fetch()
        with self._lock:
            self._cache[key] = token
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return token

    def close(self) -> None:
        """Close the client built from the settings (a caller's own is left open)."""
        self._http.close()


class ExchangeAuth(httpx.Auth):
    """``Authorization: Bearer <exchanged token>``; works with sync and async clients.

    ``when="always"`` (default) exchanges for every new subject (the downstream needs its
    own audience); ``"expiring"`` forwards the verified token while its ``exp`` is more
    than ``min_remaining`` seconds away and exchanges after that.
    """

    def __init__(
        self,
        verified: VerifiedClaims,
        exchanger: TokenExchanger,
        *,
        when: Literal["always", "expiring"] = "always",
        min_remaining: float = 60.0,
        clock: Clock = time.time,
    ) -> None:
        if not isinstance(verified, VerifiedClaims):
            raise TypeError("ExchangeAuth exchanges verified tokens only: pass VerifiedClaims")
        self._verified = verified
        self._exchanger = exchanger
        self._when = when
        self._min_remaining = min_remaining
        self._clock = clock

    def token(self) -> str:
        """The token to send now (blocking: may call the token endpoint)."""
        if self._when == "expiring":
            # No usable expiry (not a number, or none a Java long holds: 10**400 raised
            # OverflowError below): exchange rather than guess.
            exp = numeric_date(self._verified.get("exp"))
            if exp is not None and exp - self._clock() > self._min_remaining:
                return self._verified.token
        return self._exchanger.exchange(self._verified).access_token

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        yield _bearer(request, self.token())

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # The client half is sync (httpx.Client): keep its I/O off the event loop.
        token = await asyncio.to_thread(self.token)
        yield _bearer(request, token)

    def __repr__(self) -> str:
        return f"ExchangeAuth(fingerprint={self._verified.fingerprint!r}, when={self._when!r})"
