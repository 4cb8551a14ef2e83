"""The revocation block of the sidecar's settings: webhooks, the store, the Kafka topics.

Kept apart from :mod:`oauthbearer.sidecar.settings` because it is a whole concern of its
own: who may post events, how long revocations are kept, and the Kafka consumer and
producer that carry identity-provider events and our own revocation records between
replicas.

Example:
    >>> from oauthbearer._env import Env
    >>> s = revocation_settings(Env({
    ...     "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "kafka:9092",
    ...     "OAUTHBEARER_REVOCATIONS_TOPIC": "oauthbearer-revocations",
    ...     "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS": "kc-events,kc-admin-events",
    ... }))
    >>> s["revocations_topic"], s["keycloak_event_topic"], s["keycloak_admin_event_topic"]
    ('oauthbearer-revocations', 'kc-events', 'kc-admin-events')
"""

from __future__ import annotations

import os
from typing import Any

from oauthbearer._env import Env
from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.credentials import parse_credentials

__all__ = ["revocation_settings"]

_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("OAUTHBEARER", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_TOPIC_VARIABLES = (
    "OAUTHBEARER_EVENTS_TOPIC",
    "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS",
    "OAUTHBEARER_REVOCATIONS_TOPIC",
)


def revocation_settings(env: Env) -> dict[str, Any]:
    """The revocation fields of ``SidecarSettings``, validated; errors name the variable."""
    event_callers = env.secret("OAUTHBEARER_EVENT_CALLERS")
    if event_callers is not None:
        parse_credentials("OAUTHBEARER_EVENT_CALLERS", event_callers.reveal())
    emitter_secret = env.secret("OAUTHBEARER_KEYCLOAK_EMITTER_SECRET")
    if emitter_secret is not None and not emitter_secret.reveal().strip():
        # A file of spaces: every call would be refused (a blank secret never matches),
        # while check and serve reported webhooks for the emitter.
        raise ConfigurationError(
            "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE", "holds only whitespace: no secret"
        )
    claim = env.text("OAUTHBEARER_REVOCATION_PRINCIPAL_CLAIM", "sub") or "sub"
    return {
        "event_callers": event_callers,
        "keycloak_emitter_secret": emitter_secret,
        "revocation_max_token_lifetime": env.number(
            "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME", 86_400.0, minimum=1
        ),
        "revocation_max_entries": env.integer(
            "OAUTHBEARER_REVOCATION_MAX_ENTRIES", 100_000, minimum=1, maximum=10_000_000
        ),
        "revocation_principal_claim": claim,
        "revocations_publish_timeout": env.number(
            "OAUTHBEARER_REVOCATIONS_PUBLISH_TIMEOUT", 5.0, minimum=0.5, maximum=120
        ),
        **_topics(env),
        **_kafka_client(env),
    }


def _topics(env: Env) -> dict[str, Any]:
    bootstrap = env.text("OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS")
    events_topic = env.text("OAUTHBEARER_EVENTS_TOPIC")
    user_topic, admin_topic = _keycloak_topics(env.text("OAUTHBEARER_KEYCLOAK_EVENT_TOPICS"))
    revocations_topic = env.text("OAUTHBEARER_REVOCATIONS_TOPIC")
    named = [t for t in (events_topic, user_topic, admin_topic, revocations_topic) if t]
    if bootstrap is not None and not named:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS",
            f"is set but names no topic to use: set one of {', '.join(_TOPIC_VARIABLES)}",
        )
    if bootstrap is None and named:
        variable = next(v for v in _TOPIC_VARIABLES if env.text(v) is not None)  # the first one set
        raise ConfigurationError(
            variable, "needs OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS (the Kafka cluster)"
        )
    if len(set(named)) != len(named):
        # Named after the later of the two variables that share a topic (the revocations
        # topic was blamed for any pair, set or not).
        sources = [
            ("OAUTHBEARER_EVENTS_TOPIC", events_topic),
            ("OAUTHBEARER_KEYCLOAK_EVENT_TOPICS", user_topic),
            ("OAUTHBEARER_KEYCLOAK_EVENT_TOPICS", admin_topic),
            ("OAUTHBEARER_REVOCATIONS_TOPIC", revocations_topic),
        ]
        seen: set[str] = set()
        variable = "OAUTHBEARER_REVOCATIONS_TOPIC"
        for name, topic in sources:
            if topic and topic in seen:
                variable = name
                break
            if topic:
                seen.add(topic)
        raise ConfigurationError(
            variable,
            "the revocations topic, the events topic and the Keycloak topics must all differ",
        )
    return {
        "events_bootstrap_servers": bootstrap,
        "events_topic": events_topic,
        "keycloak_event_topic": user_topic,
        "keycloak_admin_event_topic": admin_topic,
        "revocations_topic": revocations_topic,
    }


def _keycloak_topics(raw: str | None) -> tuple[str | None, str | None]:
    """``user-topic[,admin-topic]``; either may be left empty (``,admin-topic``)."""
    if raw is None:
        return None, None
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) > 2 or not any(parts):
        raise ConfigurationError(
            "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS",
            "must be <user-event topic>[,<admin-event topic>] (the emitter's eventTopic and "
            "adminEventTopic)",
        )
    user = parts[0] or None
    admin = parts[1] or None if len(parts) == 2 else None
    if user is not None and user == admin:
        raise ConfigurationError(
            "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS", "user and admin events need two topics"
        )
    return user, admin


def _kafka_client(env: Env) -> dict[str, Any]:
    """How the consumer (and the revocations producer) reach and log in to Kafka."""
    bootstrap = env.text("OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS")
    protocol = (env.text("OAUTHBEARER_EVENTS_SECURITY_PROTOCOL", "PLAINTEXT") or "").upper()
    if protocol not in _SECURITY_PROTOCOLS:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL",
            f"must be one of {', '.join(_SECURITY_PROTOCOLS)}",
        )
    mechanism = (env.text("OAUTHBEARER_EVENTS_SASL_MECHANISM", "OAUTHBEARER") or "").upper()
    if mechanism not in _SASL_MECHANISMS:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_SASL_MECHANISM", f"must be one of {', '.join(_SASL_MECHANISMS)}"
        )
    oauth = env.flag("OAUTHBEARER_EVENTS_OAUTH", default=False)
    username = env.text("OAUTHBEARER_EVENTS_SASL_USERNAME")
    password = env.secret("OAUTHBEARER_EVENTS_SASL_PASSWORD")
    sasl = protocol.startswith("SASL_")
    if oauth and not (sasl and mechanism == "OAUTHBEARER"):
        # CONTRACT.md §6: oauth_cb with a non-SASL protocol makes the consumer wait 10 s
        # for a token it never asks for, then fail.
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_OAUTH",
            "needs OAUTHBEARER_EVENTS_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT) and "
            "OAUTHBEARER_EVENTS_SASL_MECHANISM=OAUTHBEARER",
        )
    if oauth and bootstrap is not None:
        _check_client_settings(env)
    if bootstrap is not None and sasl and mechanism == "OAUTHBEARER" and not oauth:
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_OAUTH",
            "must be true for SASL OAUTHBEARER (tokens come from the OAUTH_LOGIN_* variables)",
        )
    needs_password = bootstrap is not None and sasl and mechanism != "OAUTHBEARER"
    if needs_password and (username is None or password is None):
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_SASL_USERNAME",
            f"and OAUTHBEARER_EVENTS_SASL_PASSWORD are required for {mechanism}",
        )
    # Credentials for a protocol that sends none: the consumer connected without them,
    # and nothing said so (an operator believes the client logs in).
    if not sasl:
        credentials = ("OAUTHBEARER_EVENTS_SASL_USERNAME", "OAUTHBEARER_EVENTS_SASL_PASSWORD")
        for name in credentials:
            if env.text(name) is not None or env.text(name + "_FILE") is not None:
                raise ConfigurationError(
                    name,
                    f"is not used with OAUTHBEARER_EVENTS_SECURITY_PROTOCOL={protocol}: "
                    "set SASL_SSL (or SASL_PLAINTEXT), or unset it",
                )
    ca_file = env.text("OAUTHBEARER_EVENTS_CA_FILE")
    if ca_file is not None and not protocol.endswith("SSL"):
        raise ConfigurationError(
            "OAUTHBEARER_EVENTS_CA_FILE",
            f"is not used with OAUTHBEARER_EVENTS_SECURITY_PROTOCOL={protocol}: set SSL or "
            "SASL_SSL, or unset it",
        )
    if ca_file is not None and not os.access(ca_file, os.R_OK):
        raise ConfigurationError("OAUTHBEARER_EVENTS_CA_FILE", f"cannot read {ca_file!r}")
    return {
        "events_security_protocol": protocol,
        "events_sasl_mechanism": mechanism,
        "events_oauth": oauth,
        "events_sasl_username": username,
        "events_sasl_password": password,
        "events_ca_file": ca_file,
    }


def _check_client_settings(env: Env) -> None:
    """The consumer's tokens come from the ``OAUTH_LOGIN_*`` block: read it now.

    librdkafka first asks for a token inside the consumer's constructor; a block that
    cannot make one was found there, ten seconds into start-up, as librdkafka's timeout
    and a traceback, while ``oauthbearer check`` had approved the configuration.
    """
    # The package's public name, not the client half's modules: the halves stay
    # independent (tests/unit/test_boundaries.py).
    from oauthbearer import ClientSettings

    ClientSettings.from_env(env.environ)  # ConfigurationError names the variable
