"""The token provider: one cache per request identity, single flight, refresh and backoff.

Every Kafka library adapter sits on :class:`TokenProvider`. Its rules:

* **One cache per process, keyed by the full request identity**
  (:meth:`ClientSettings.identity`): N producers, consumers and admin clients configured
  alike share one token and cost one fetch per refresh cycle.
* **Single flight**: concurrent callers without a usable token wait for the one fetch in
  progress instead of starting their own.
* **Proactive refresh** at ``refresh_fraction`` of the lifetime ± ``refresh_jitter`` (as
  Kafka's own login refresher does, CONTRACT §5), so clients sharing an authorization
  server do not refresh in lock-step.
* **Outages**: while the current token is valid, a failed refresh returns it and schedules
  the next attempt with exponential backoff and full jitter, never before ``Retry-After``.
* **Bounded**: a call with no valid token gives up after ``deadline`` seconds (default 8,
  under confluent-kafka's 10 s constructor wait, CONTRACT §6); each fetch (discovery, the
  token request, a retry after ``invalid_client``) ends within ``timeout`` seconds in all,
  however slowly the server answers.

The clocks, the sleep and the random source are injected: tests drive time by hand. Two
clocks: the wall clock for the expiry handed to Kafka (epoch seconds), the monotonic one
for everything scheduled (refresh, backoff, deadlines), which a stepped wall clock (NTP,
a resumed VM) must not stretch or shrink.

Example:
    >>> import httpx
    >>> from oauthbearer.client.settings import ClientSettings
    >>> calls = []
    >>> def idp(request):
    ...     calls.append(request)
    ...     return httpx.Response(200, json={"access_token": "abc", "expires_in": 100})
    >>> p = TokenProvider(ClientSettings(token_url="https://idp.example/token"),
    ...                   http_client=httpx.Client(transport=httpx.MockTransport(idp)),
    ...                   clock=lambda: 0.0, cache=TokenCache())
    >>> p.token() is p.token(), len(calls)
    (True, 1)
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

from oauthbearer.client.failures import failure_fields, log_failure
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.leader import FetchLeader
from oauthbearer.client.metrics import MetricsHook, NullMetrics
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.token import Token
from oauthbearer.client.token_cache import SHARED_CACHE, TokenCache

__all__ = ["SHARED_CACHE", "TokenCache", "TokenProvider", "failure_fields", "log_failure"]

logger = logging.getLogger("oauthbearer.client")

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class TokenProvider:
    """Obtains, caches and refreshes access tokens for one configuration. Thread-safe.

    Args:
        settings: what to request and how (see :class:`ClientSettings`).
        http_client: an ``httpx.Client`` to use (the test seam), used as it is: its TLS
            settings are the caller's, never reloaded or replaced here. Built from the
            settings if None, and then rebuilt whenever the TLS files change.
        clock: epoch seconds, ``time.time`` by default: token expiries, as Kafka is told.
        monotonic: seconds that never step, ``time.monotonic`` by default: when to refresh,
            when to retry, when a blocking call gives up.
        sleep: how to wait between retries inside one call; tests pass a fake.
        random: uniform ``[0, 1)`` source for jitter.
        metrics: a :class:`~oauthbearer.client.metrics.MetricsHook`.
        cache: where tokens live; :data:`SHARED_CACHE` (process-wide) by default.

    Example:
        >>> from oauthbearer.client.settings import ClientSettings
        >>> p = TokenProvider(ClientSettings(token_url="https://idp.example/token"))
        >>> p.endpoint_host
        'idp.example'
        >>> p.close()
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        http_client: httpx.Client | None = None,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        random: Callable[[], float] = random.random,
        metrics: MetricsHook | None = None,
        cache: TokenCache | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._random = random
        self._metrics: MetricsHook = NullMetrics() if metrics is None else metrics
        self._slot = (SHARED_CACHE if cache is None else cache).slot(settings.identity())
        self._fetcher = TokenFetcher(
            settings,
            http_client=http_client,
            clock=clock,
            monotonic=monotonic,
            refresh_tokens=self._slot.refresh_tokens,
        )
        claims = (settings.principal_claim, "sub", "client_id")
        self._principal_claims = tuple(dict.fromkeys(claims))
        self._extensions = dict(settings.sasl_extensions)
        self._leader = FetchLeader(
            settings,
            self._fetcher,
            self._slot,
            clock=clock,
            monotonic=monotonic,
            random=random,
            metrics=self._metrics,
            principal=self.principal,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> TokenProvider:
        """Settings from the environment (``os.environ`` when None); ``kwargs`` as in ``__init__``.

        Example:
            >>> p = TokenProvider.from_env({"OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t"})
            >>> p.settings.grant_type
            'client_credentials'
        """
        return cls(ClientSettings.from_env(environ), **kwargs)

    # --- public surface ----------------------------------------------------------------
    @property
    def settings(self) -> ClientSettings:
        return self._settings

    @property
    def endpoint_host(self) -> str:
        """``host[:port]`` of the token endpoint: what logs and errors name."""
        return self._fetcher.endpoint_host

    @property
    def fetch_count(self) -> int:
        """Fetch attempts made for this identity by any provider sharing its cache slot."""
        with self._slot.cond:
            return self._slot.fetches

    def current(self) -> Token | None:
        """The cached token if it needs no refresh yet, without any I/O; else ``None``.

        Example:
            >>> from oauthbearer.client.settings import ClientSettings
            >>> p = TokenProvider(ClientSettings(token_url="https://idp/t"), cache=TokenCache())
            >>> p.current() is None
            True
        """
        now, tick = self._clock(), self._monotonic()
        with self._slot.cond:
            token = self._slot.valid_token(now, tick)
            if token is not None and tick < self._slot.refresh_at:
                return token
        return None

    def token(self, *, scheduled_refresh: bool = False, wait_out_backoff: bool = True) -> Token:
        """A valid token: cached, refreshed, or fetched now (blocking, at most ``deadline``).

        Raises :class:`~oauthbearer.errors.TokenError` (or ConfigurationError when a secret
        file became unreadable) only when no valid token exists.

        ``scheduled_refresh``: the caller keeps its own refresh schedule (librdkafka calls
        ``oauth_cb`` at 80 % of the lifetime it was told) and asks because a refresh is
        due. A token past the *start* of the jitter window is then refreshed: handing the
        old one back would make librdkafka ask again only at 96 %, leaving a few seconds
        of margin on a short-lived token.

        ``wait_out_backoff=False``: while the last failure's backoff runs, raise its error
        at once instead of sleeping until the next attempt (for a caller on a network
        thread that serves other connections: kafka-python's).

        Example:
            >>> # provider.token().access_token  -> "eyJhbGciOi..."
        """
        slot = self._slot
        deadline = self._monotonic() + self._settings.deadline
        while True:
            now, tick = self._clock(), self._monotonic()
            pause = 0.0
            still_valid: Token | None = None
            with slot.cond:
                current = slot.valid_token(now, tick)
                if current is not None:
                    due = slot.refresh_from if scheduled_refresh else slot.refresh_at
                    if slot.keeps_current(tick, due=due):
                        return current
                    still_valid = current
                    slot.fetching = True  # we are the one refresh; others keep the old token
                elif slot.fetching:
                    self._leader.wait(deadline - tick)
                    continue
                elif tick < slot.retry_at:
                    pause = slot.retry_at - tick
                    if not wait_out_backoff or tick + pause > deadline:
                        raise self._leader.last_error()
                else:
                    slot.fetching = True  # we are the one fetch; others wait for it
            if pause:
                self._sleep(pause)
                continue
            result = self._leader.fetch(still_valid, deadline)
            if result is not None:
                return result

    def token_without_waiting(self) -> Token | None:
        """A valid cached token at once, or None when there is none (then call :meth:`token`).

        A refresh that is due runs on a background thread while the current token is
        handed out: kafka-python asks for a token inside its network loop, and aiokafka on
        every connection, so waiting there for the authorization server would stall every
        connection of the client for up to the request timeout.

        Example:
            >>> from oauthbearer.client.settings import ClientSettings
            >>> p = TokenProvider(ClientSettings(token_url="https://idp/t"), cache=TokenCache())
            >>> p.token_without_waiting() is None
            True
        """
        now, tick = self._clock(), self._monotonic()
        slot = self._slot
        with slot.cond:
            current = slot.valid_token(now, tick)
            if current is None:
                return None
            if slot.keeps_current(tick, due=slot.refresh_at):
                return current
            slot.fetching = True  # this call leads the refresh; others keep the old token
        deadline = tick + self._settings.deadline
        threading.Thread(
            target=self._refresh_in_background,
            args=(current, deadline),
            name="oauthbearer-refresh",
            daemon=True,
        ).start()
        return current

    def _refresh_in_background(self, still_valid: Token, deadline: float) -> None:
        try:
            self._leader.fetch(still_valid, deadline)
        except Exception:
            logger.exception("background token refresh failed")

    def prefetch(self) -> Token:
        """Fetch now (if needed) so that Kafka clients built next find a token waiting.

        Example:
            >>> # provider.prefetch(); Producer({... "oauth_cb": make_oauth_cb(provider)})
        """
        return self.token()

    def expiry_to_report(self, token: Token, *, refreshes_at: float = 0.8) -> float:
        """The expiry (epoch seconds) to tell a client library that asks for a new token
        at ``refreshes_at`` of the lifetime it was told (librdkafka: 80 %, CONTRACT §6).

        Never later than the token's ``expires_at``, nor than the lifetime it has really
        left by the monotonic clock (after the wall clock stepped back an hour, librdkafka
        was told an hour too many and asked again long after the token had expired). And
        early enough that the library asks when this provider's jittered refresh point
        comes: told the plain expiry, every process refreshed at exactly 80 %, in
        lock-step, whatever the jitter drawn here.

        Example:
            >>> # Producer({... "oauth_cb": ...}) gets (token, provider.expiry_to_report(t), ...)
        """
        now, tick = self._clock(), self._monotonic()
        slot = self._slot
        with slot.cond:
            current = slot.token is token
            valid_until, refresh_at = slot.valid_until, slot.refresh_at
        expiry = token.expires_at
        if not current:  # replaced meanwhile: its schedule is gone, its expiry stands
            return expiry
        expiry = min(expiry, now + (valid_until - tick))
        if refresh_at > tick:
            expiry = min(expiry, now + (refresh_at - tick) / refreshes_at)
        return expiry

    def principal(self, token: Token) -> str:
        """The SASL principal: the configured claim, then ``sub``, then ``client_id``.

        Opaque tokens have no claims: the configured client id stands in, then ``unknown``
        (librdkafka needs a non-empty name; the broker decides the real principal anyway).
        """
        return token.principal(*self._principal_claims) or self._settings.client_id or "unknown"

    def extensions(self) -> dict[str, str]:
        """The configured SASL extensions (validated), as a fresh dict."""
        return dict(self._extensions)

    def close(self) -> None:
        """Close the HTTP client if this provider created it. Cached tokens stay cached."""
        self._fetcher.close()

    def __enter__(self) -> TokenProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"TokenProvider(endpoint_host={self.endpoint_host!r}, "
            f"grant_type={self._settings.grant_type!r}, auth_method={self._settings.auth_method!r})"
        )
