"""How the sidecar's Kafka clients (the revocation consumer and producer) reach and log in
to the events cluster: librdkafka configuration from the ``OAUTHBEARER_EVENTS_*`` settings.

PLAINTEXT, SSL, SASL with SCRAM or PLAIN (the password from a file or the environment),
or SASL/OAUTHBEARER with the package's own ``oauth_cb``. The consumer's group id is unique
per process: every replica reads every revocation, and none commits offsets.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from typing import Any

from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.settings import SidecarSettings

__all__ = ["consumer_config", "kafka_config"]


def kafka_config(
    settings: SidecarSettings, *, oauth_cb: Callable[[str | None], Any] | None = None
) -> dict[str, Any]:
    """How to reach and log in to the events cluster: shared by consumer and producer.

    With ``OAUTHBEARER_EVENTS_OAUTH=true`` the client authenticates with our own
    ``oauth_cb`` (the client half, configured by the ``OAUTH_LOGIN_*`` variables of the
    process environment); ``oauth_cb`` overrides it (tests). The client half is imported
    only then, so a sidecar without it never loads it.

    Example:
        >>> s = SidecarSettings(events_bootstrap_servers="kafka:9092", events_topic="fa")
        >>> kafka_config(s)
        {'bootstrap.servers': 'kafka:9092', 'security.protocol': 'PLAINTEXT'}
    """
    if settings.events_bootstrap_servers is None:
        raise ValueError("OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS is not set")
    config: dict[str, Any] = {
        "bootstrap.servers": settings.events_bootstrap_servers,
        "security.protocol": settings.events_security_protocol,
    }
    if settings.events_ca_file is not None:
        config["ssl.ca.location"] = settings.events_ca_file
    if settings.events_security_protocol.startswith("SASL_"):
        mechanism = settings.events_sasl_mechanism
        config["sasl.mechanism"] = mechanism
        if mechanism == "OAUTHBEARER":
            if oauth_cb is None:
                if not settings.events_oauth:
                    raise ConfigurationError(
                        "OAUTHBEARER_EVENTS_OAUTH", "must be true for OAUTHBEARER"
                    )
                # The package's public callback, not the client half's modules: the two
                # halves stay independent (tests/unit/test_boundaries.py).
                from oauthbearer import oauth_cb as env_oauth_cb

                oauth_cb = env_oauth_cb
            config["oauth_cb"] = oauth_cb
        else:
            password = settings.events_sasl_password
            config["sasl.username"] = settings.events_sasl_username
            config["sasl.password"] = password.reveal() if password is not None else ""
    return config


def consumer_config(
    settings: SidecarSettings, *, oauth_cb: Callable[[str | None], Any] | None = None
) -> dict[str, Any]:
    """The librdkafka configuration for the revocation consumer (see :func:`kafka_config`).

    Example:
        >>> s = SidecarSettings(events_bootstrap_servers="kafka:9092", events_topic="fa")
        >>> c = consumer_config(s)
        >>> c["bootstrap.servers"], c["security.protocol"], c["enable.auto.commit"]
        ('kafka:9092', 'PLAINTEXT', False)
    """
    return {
        **kafka_config(settings, oauth_cb=oauth_cb),
        # Required by librdkafka even with assign(); unique so no replica ever shares one.
        "group.id": f"oauthbearer-revocation-{os.getpid()}-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "client.id": "oauthbearer-sidecar-revocation",
    }
