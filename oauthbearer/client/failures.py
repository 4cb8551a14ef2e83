"""Why no token could be had, as structured log fields and one log line (never a secret).

The adapters (confluent-kafka's ``oauth_cb``, aiokafka, kafka-python) log through
:func:`log_failure` just before they raise, so the reason reaches the application's log
even when the Kafka library swallows the exception.
"""

from __future__ import annotations

import logging

from oauthbearer.errors import (
    OAuthBearerError,
    TokenEndpointError,
    TokenError,
    TokenRequestError,
)

__all__ = ["failure_fields", "log_failure"]

logger = logging.getLogger("oauthbearer.client")


def failure_fields(exc: BaseException) -> dict[str, object]:
    """Structured log fields for a failure: status, OAuth error, endpoint host — no secrets.

    Example:
        >>> from oauthbearer.errors import TokenEndpointError
        >>> failure_fields(TokenEndpointError("idp:443", 401, "invalid_client"))["oauth_error"]
        'invalid_client'
    """
    fields: dict[str, object] = {"error_class": type(exc).__name__}
    if isinstance(exc, TokenEndpointError):
        fields.update(
            status=exc.status,
            oauth_error=exc.error,
            error_description=exc.error_description,
            endpoint_host=exc.endpoint_host,
        )
    elif isinstance(exc, TokenRequestError):
        fields.update(endpoint_host=exc.endpoint_host, reason=exc.reason)
    elif isinstance(exc, TokenError):
        fields["reason"] = str(exc)
    return fields


def log_failure(adapter: str, endpoint_host: str, exc: BaseException) -> None:
    """Log why no token could be had, before the adapter raises.

    Our own errors are explained by their message (status, OAuth error, description, host;
    never a secret), so no traceback; anything else is a bug and gets one.
    """
    if isinstance(exc, OAuthBearerError):
        logger.error(
            "%s: no token from %s: %s", adapter, endpoint_host, exc, extra=failure_fields(exc)
        )
    else:
        logger.error("%s: no token from %s", adapter, endpoint_host, exc_info=exc)
