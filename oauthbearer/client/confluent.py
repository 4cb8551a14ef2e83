"""confluent-kafka (librdkafka) adapter: the ``oauth_cb`` configuration callback.

CONTRACT §6 in short: librdkafka calls ``oauth_cb(sasl.oauthbearer.config)`` on its own
background thread; the callback must be synchronous, thread-safe, and return exactly
``(token, expiry_epoch_seconds: float, principal: str, extensions: dict)``. If it raises,
confluent-kafka throws the message away and reports only "OAuth callback raised
exception" — so the real cause is logged here, first.

Example (needs a broker, so shown rather than run)::

    from confluent_kafka import Producer
    from oauthbearer import oauth_cb
    Producer({"bootstrap.servers": "kafka:9093", "security.protocol": "SASL_SSL",
              "sasl.mechanisms": "OAUTHBEARER", "oauth_cb": oauth_cb})
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from oauthbearer.client.failures import log_failure
from oauthbearer.client.provider import TokenProvider

__all__ = ["OAuthCallback", "default_provider", "make_oauth_cb", "oauth_cb"]

#: librdkafka asks for a new token at this fraction of the lifetime it was told.
LIBRDKAFKA_REFRESH_FRACTION = 0.8

#: What ``oauth_cb`` returns: (token, expiry in epoch seconds, principal, SASL extensions).
OAuthResult = tuple[str, float, str, dict[str, str]]
OAuthCallback = Callable[[str | None], OAuthResult]

_default_lock = threading.Lock()
_default: TokenProvider | None = None


def _new_default_lock() -> None:
    # A forked child has none of the parent's threads: one may have held the lock.
    global _default_lock  # the module's one lock, replaced in the child only
    _default_lock = threading.Lock()


os.register_at_fork(after_in_child=_new_default_lock)


def default_provider() -> TokenProvider:
    """The process-wide provider configured from ``os.environ``, built on first use.

    Example:
        >>> # default_provider().prefetch()   # fetch before building Kafka clients
    """
    global _default
    with _default_lock:
        if _default is None:
            _default = TokenProvider.from_env()
        return _default


def reset_default_provider() -> None:
    """Forget the environment-built provider, so the next call re-reads the environment."""
    global _default
    with _default_lock:
        provider, _default = _default, None
    if provider is not None:
        provider.close()


def make_oauth_cb(provider: TokenProvider) -> OAuthCallback:
    """An ``oauth_cb`` for confluent-kafka that takes its tokens from ``provider``.

    Example:
        >>> from oauthbearer.client.settings import ClientSettings
        >>> cb = make_oauth_cb(TokenProvider(ClientSettings(token_url="https://idp/t")))
        >>> callable(cb)
        True
    """

    def oauth_cb(oauthbearer_config: str | None, /) -> OAuthResult:
        return _answer(provider, oauthbearer_config)

    oauth_cb.__doc__ = f"confluent-kafka oauth_cb backed by {provider!r}."
    return oauth_cb


def oauth_cb(oauthbearer_config: str | None, /) -> OAuthResult:
    """confluent-kafka ``oauth_cb`` configured from the environment on its first call.

    ``oauthbearer_config`` is librdkafka's ``sasl.oauthbearer.config`` string (``None``
    when unset); it is accepted for the callback contract and not used: configuration
    comes from the ``OAUTH_LOGIN_*`` and ``OAUTHBEARER_LOGIN_*`` variables.

    Example (needs the OAUTH_LOGIN_* environment and a reachable endpoint)::

        token, expiry, principal, extensions = oauth_cb(None)
    """
    try:
        provider = default_provider()
    except Exception as exc:
        # Whatever it is, confluent-kafka discards it: this line is all the operator gets.
        log_failure("oauth_cb", "(not configured)", exc)
        raise
    return _answer(provider, oauthbearer_config)


def _answer(provider: TokenProvider, oauthbearer_config: str | None) -> OAuthResult:
    try:
        # librdkafka calls back when its own schedule says a refresh is due (CONTRACT §6).
        token = provider.token(scheduled_refresh=True)
    except Exception as exc:
        # confluent-kafka discards this exception's text: this line is the operator's only
        # clue. Our exception messages carry status, OAuth error and host, never secrets.
        log_failure("oauth_cb", provider.endpoint_host, exc)
        raise
    # Exactly a 4-tuple with a float expiry in seconds (CONTRACT §6); a 3-tuple is a
    # TypeError and a wrong shape can silently stop later refreshes.
    return (
        token.access_token,
        float(provider.expiry_to_report(token, refreshes_at=LIBRDKAFKA_REFRESH_FRACTION)),
        provider.principal(token),
        provider.extensions(),
    )
