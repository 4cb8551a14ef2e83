"""aiokafka adapter: an ``AbstractTokenProvider`` over the shared sync core.

aiokafka awaits ``token()`` on every new connection (it has no KIP-368 re-authentication),
on the event loop. The cached path returns at once; a fetch runs in a worker thread
(``asyncio.to_thread``) so the loop never blocks on HTTP.

Example (needs a broker, so shown rather than run)::

    from aiokafka import AIOKafkaProducer
    AIOKafkaProducer(bootstrap_servers="kafka:9093", security_protocol="SASL_SSL",
                     sasl_mechanism="OAUTHBEARER",
                     sasl_oauth_token_provider=AiokafkaTokenProvider())
"""

from __future__ import annotations

import asyncio

from aiokafka.abc import AbstractTokenProvider

from oauthbearer.client.confluent import default_provider
from oauthbearer.client.failures import log_failure
from oauthbearer.client.provider import TokenProvider

__all__ = ["AiokafkaTokenProvider"]


class AiokafkaTokenProvider(AbstractTokenProvider):  # type: ignore[misc]  # aiokafka is untyped
    """aiokafka token provider; ``provider=None`` uses the environment-built default.

    Example:
        >>> from oauthbearer.client.settings import ClientSettings
        >>> p = AiokafkaTokenProvider(TokenProvider(ClientSettings(token_url="https://idp/t")))
        >>> p.extensions()
        {}
    """

    def __init__(self, provider: TokenProvider | None = None) -> None:
        self._provider = default_provider() if provider is None else provider

    @property
    def provider(self) -> TokenProvider:
        return self._provider

    async def token(self) -> str:
        # A connection waits for this: a due refresh runs in the background instead.
        cached = self._provider.token_without_waiting()
        if cached is not None:
            return cached.access_token
        try:
            fetched = await asyncio.to_thread(self._provider.token)
        except Exception as exc:
            log_failure("aiokafka", self._provider.endpoint_host, exc)
            raise
        return fetched.access_token

    def extensions(self) -> dict[str, str]:
        return self._provider.extensions()
