"""kafka-python adapter: an ``AbstractTokenProvider`` over the shared sync core.

kafka-python ≥ 3.0 keeps the base class in ``kafka.net.sasl.oauth`` (2.x:
``kafka.sasl.oauth``) and checks ``isinstance`` against it, so we subclass the real one.
It calls ``token()`` synchronously, inside its network loop, for every (re-)authentication:
a cached token is handed out at once, and a due refresh runs in the background.

Example (needs a broker, so shown rather than run)::

    from kafka import KafkaProducer
    KafkaProducer(bootstrap_servers="kafka:9093", security_protocol="SASL_SSL",
                  sasl_mechanism="OAUTHBEARER",
                  sasl_oauth_token_provider=KafkaPythonTokenProvider())
"""

from __future__ import annotations

try:
    from kafka.net.sasl.oauth import AbstractTokenProvider
except ImportError:  # kafka-python 2.x
    from kafka.sasl.oauth import AbstractTokenProvider

from oauthbearer.client.confluent import default_provider
from oauthbearer.client.failures import log_failure
from oauthbearer.client.provider import TokenProvider

__all__ = ["KafkaPythonTokenProvider"]


class KafkaPythonTokenProvider(AbstractTokenProvider):  # type: ignore[misc]  # kafka-python is untyped
    """kafka-python token provider; ``provider=None`` uses the environment-built default.

    Example:
        >>> from oauthbearer.client.settings import ClientSettings
        >>> p = KafkaPythonTokenProvider(TokenProvider(ClientSettings(token_url="https://i/t")))
        >>> p.extensions()
        {}
    """

    def __init__(self, provider: TokenProvider | None = None) -> None:
        super().__init__()
        self._provider = default_provider() if provider is None else provider

    @property
    def provider(self) -> TokenProvider:
        return self._provider

    def token(self) -> str:
        # Called inside kafka-python's network loop: a due refresh must not block it.
        cached = self._provider.token_without_waiting()
        if cached is not None:
            return cached.access_token
        try:
            # Nor may an outage's backoff: kafka-python asks on the one thread that
            # serves all of the client's connections, which slept out each retry delay
            # (5-6 s a reconnect). The error comes at once; kafka-python retries.
            return self._provider.token(wait_out_backoff=False).access_token
        except Exception as exc:
            log_failure("kafka-python", self._provider.endpoint_host, exc)
            raise

    def extensions(self) -> dict[str, str]:
        return self._provider.extensions()
