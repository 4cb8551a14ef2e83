"""When the token provider fetches again: the refresh point, backoff, and what is retried.

Pure functions of the settings, the failure and a random draw in [0, 1), so the timing
rules are read and tested in one place; :class:`~oauthbearer.client.provider.TokenProvider`
applies them under its lock.

Example:
    >>> from oauthbearer.client.settings import ClientSettings
    >>> s = ClientSettings(token_url="https://idp.example/token")
    >>> refresh_at(s, issued_at=1000.0, lifetime=300.0, draw=0.5)  # 80 % of 300 s
    1240.0
    >>> backoff(s, failures=3, exc=TokenRequestError("idp.example", "timed out"), draw=0.5)
    1.0
"""

from __future__ import annotations

from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import OAuthBearerError, TokenEndpointError, TokenRequestError

__all__ = ["MAX_RETRY_AFTER", "backoff", "refresh_at", "retryable"]

#: A ``Retry-After`` longer than this is treated as this (a buggy header must not stop us).
MAX_RETRY_AFTER = 3600.0


def refresh_at(
    settings: ClientSettings, *, issued_at: float, lifetime: float, draw: float
) -> float:
    """Uniform in ``refresh_fraction`` ± ``refresh_jitter`` of the lifetime, as Kafka's
    own ``ExpiringCredentialRefreshingLogin`` does: clients sharing an authorization
    server do not refresh in lock-step. In the clock of ``issued_at`` (the provider
    passes monotonic seconds)."""
    spread = settings.refresh_jitter * (2.0 * draw - 1.0)
    return issued_at + lifetime * (settings.refresh_fraction + spread)


def backoff(
    settings: ClientSettings, *, failures: int, exc: OAuthBearerError, draw: float
) -> float:
    """Seconds until the next attempt after ``failures`` failures in a row.

    "Full jitter": uniform in [0, min(cap, base * 2^(n-1))] spreads the retries of many
    clients that failed together; never before the server's ``Retry-After``.
    """
    growth = 2.0 ** min(failures - 1, 32)  # capped exponent: no float overflow after weeks
    ceiling = min(settings.backoff_max, settings.backoff_base * growth)
    delay = draw * ceiling
    if isinstance(exc, TokenEndpointError) and exc.retry_after is not None:
        # RFC 9110 §10.2.3 / RFC 6585 §4: do not come back before Retry-After.
        delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER))
    return delay


def retryable(exc: OAuthBearerError) -> bool:
    """Worth another attempt: the request did not get through, or the endpoint answered
    5xx or 429; any other refusal (a wrong client, grant or scope) is final."""
    if isinstance(exc, TokenRequestError):
        return True
    return isinstance(exc, TokenEndpointError) and exc.retryable
