"""The client half: obtain, cache and refresh access tokens for Kafka clients.

Modules, one job each:

=================  ===============================================================
``settings``       :class:`ClientSettings`, from arguments or the environment
``token``          :class:`Token` and the rules for reading a token response
``sasl``           what Kafka accepts as token characters and SASL extensions
``grants``         form parameters of each grant
``client_auth``    client authentication methods
``discovery``      token endpoint from an issuer (RFC 8414 / OpenID discovery)
``fetcher``        one HTTP request → Token (the only httpx boundary)
``provider``       :class:`TokenProvider`: cache, single flight, refresh, backoff
``metrics``        metrics hook and a prometheus-client adapter
``confluent``      ``oauth_cb`` and ``make_oauth_cb`` for confluent-kafka
``aiokafka``       aiokafka ``AbstractTokenProvider``
``kafka_python``   kafka-python ``AbstractTokenProvider``
``cli``            ``oauthbearer token`` and ``oauthbearer check``
=================  ===============================================================

This package never imports ``oauthbearer.sidecar``. Importing it does no I/O.
"""
