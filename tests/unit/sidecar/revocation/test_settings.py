"""Revocation settings: validation naming the variable, and the consumer configuration."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.cli import describe
from oauthbearer.sidecar.revocation.client_config import consumer_config
from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.sidecar.warnings import ANY_ISSUER_WARNING, LOCAL_ONLY_WARNING
from tests.support.asgi import asgi_client

BASE = {"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks", "OAUTHBEARER_CALLERS": "b:fake-s"}


def settings(**env: str) -> SidecarSettings:
    return SidecarSettings.from_env({**BASE, **env})


def test_defaults() -> None:
    s = settings()
    assert s.event_callers is None
    assert s.events_bootstrap_servers is None
    assert s.revocation_max_token_lifetime == 86_400
    assert s.revocation_max_entries == 100_000
    assert s.revocation_principal_claim == "sub"


def test_the_topics_one_cluster_carries() -> None:
    s = settings(
        OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS="k:9092",
        OAUTHBEARER_KEYCLOAK_EVENT_TOPICS=",kc-admin",
        OAUTHBEARER_REVOCATIONS_TOPIC="revocations",
        OAUTHBEARER_KEYCLOAK_EMITTER_SECRET="fake-emitter-secret",
    )
    assert (s.keycloak_event_topic, s.keycloak_admin_event_topic) == (None, "kc-admin")
    assert s.kafka_topics == ("kc-admin", "revocations")
    assert s.revocations_publish_timeout == 5.0
    assert s.webhooks  # the emitter's secret alone turns the routes on
    assert not settings().webhooks


#: A consumer whose tokens come from the OAUTH_LOGIN_* block.
OAUTH_EVENTS = {
    "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9093",
    "OAUTHBEARER_EVENTS_TOPIC": "t",
    "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL": "SASL_SSL",
    "OAUTHBEARER_EVENTS_OAUTH": "true",
    "OAUTH_LOGIN_SERVER": "idp.example:8443",
    "OAUTH_LOGIN_ENDPOINT": "/oauth2/token",
    "OAUTH_AUTHORIZATION": "Basic c2lkZWNhcjpmYWtlLXNlY3JldA==",
}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OAUTHBEARER_EVENT_CALLERS": "no-secret"}, "OAUTHBEARER_EVENT_CALLERS"),
        (
            {"OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9092"},
            "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS",
        ),
        ({"OAUTHBEARER_REVOCATIONS_TOPIC": "r"}, "OAUTHBEARER_REVOCATIONS_TOPIC"),
        ({"OAUTHBEARER_KEYCLOAK_EVENT_TOPICS": "a,b"}, "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS"),
        (
            {
                "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9092",
                **{"OAUTHBEARER_KEYCLOAK_EVENT_TOPICS": "a,b,c"},
            },
            "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS",
        ),
        (
            {
                "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9092",
                "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS": "a,a",
            },
            "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS",
        ),
        (
            {
                "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9092",
                "OAUTHBEARER_EVENTS_TOPIC": "same",
                "OAUTHBEARER_REVOCATIONS_TOPIC": "same",
            },
            "OAUTHBEARER_REVOCATIONS_TOPIC",
        ),
        (
            {"OAUTHBEARER_REVOCATIONS_PUBLISH_TIMEOUT": "0"},
            "OAUTHBEARER_REVOCATIONS_PUBLISH_TIMEOUT",
        ),
        ({"OAUTHBEARER_EVENTS_SECURITY_PROTOCOL": "TLS"}, "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL"),
        ({"OAUTHBEARER_EVENTS_SASL_MECHANISM": "GSSAPI"}, "OAUTHBEARER_EVENTS_SASL_MECHANISM"),
        ({"OAUTHBEARER_EVENTS_OAUTH": "true"}, "OAUTHBEARER_EVENTS_OAUTH"),
        (
            {
                "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9092",
                "OAUTHBEARER_EVENTS_TOPIC": "t",
                "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL": "SASL_SSL",
            },
            "OAUTHBEARER_EVENTS_OAUTH",
        ),
        (
            {
                "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9092",
                "OAUTHBEARER_EVENTS_TOPIC": "t",
                "OAUTHBEARER_EVENTS_SECURITY_PROTOCOL": "SASL_SSL",
                "OAUTHBEARER_EVENTS_SASL_MECHANISM": "SCRAM-SHA-512",
            },
            "OAUTHBEARER_EVENTS_SASL_USERNAME",
        ),
        (
            {"OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME": "0"},
            "OAUTHBEARER_REVOCATION_MAX_TOKEN_LIFETIME",
        ),
        ({"OAUTHBEARER_EVENTS_CA_FILE": "/nonexistent/ca.pem"}, "OAUTHBEARER_EVENTS_CA_FILE"),
        # The consumer's tokens come from the client's block: checked at start-up, not
        # found ten seconds into it as librdkafka's "OAuth token not set" and a traceback.
        ({**OAUTH_EVENTS, "OAUTH_LOGIN_SERVER": ""}, "OAUTH_LOGIN_SERVER"),
        ({**OAUTH_EVENTS, "OAUTH_WITH_SSL": "maybe"}, "OAUTH_WITH_SSL"),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        settings(**env)
    assert info.value.variable == variable


def test_event_caller_secret_never_in_errors_or_descriptions() -> None:
    with pytest.raises(ConfigurationError) as info:
        settings(OAUTHBEARER_EVENT_CALLERS="kc:fake-hidden,kc:fake-hidden")
    assert "fake-hidden" not in str(info.value)
    text = describe({**BASE, "OAUTHBEARER_EVENT_CALLERS": "kc:fake-hidden"})
    assert "webhooks for kc" in text
    assert "fake-hidden" not in text
    assert "fake-hidden" not in repr(settings(OAUTHBEARER_EVENT_CALLERS="kc:fake-hidden"))


def test_consumer_config_plaintext() -> None:
    s = settings(OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS="k:9092", OAUTHBEARER_EVENTS_TOPIC="t")
    config = consumer_config(s)
    assert config["bootstrap.servers"] == "k:9092"
    assert config["security.protocol"] == "PLAINTEXT"
    assert "sasl.mechanism" not in config
    # Unique per process: no two replicas ever share a consumer group.
    assert config["group.id"] != consumer_config(s)["group.id"]
    assert config["enable.auto.commit"] is False


def test_consumer_config_scram_with_password_file(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("fake-kafka-password\n")
    s = settings(
        OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS="k:9093",
        OAUTHBEARER_EVENTS_TOPIC="t",
        OAUTHBEARER_EVENTS_SECURITY_PROTOCOL="sasl_ssl",
        OAUTHBEARER_EVENTS_SASL_MECHANISM="SCRAM-SHA-512",
        OAUTHBEARER_EVENTS_SASL_USERNAME="sidecar",
        OAUTHBEARER_EVENTS_SASL_PASSWORD_FILE=str(password),
    )
    config = consumer_config(s)
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.password"] == "fake-kafka-password"
    assert "fake-kafka-password" not in repr(s)


def test_consumer_config_uses_our_oauth_cb() -> None:
    s = settings(**OAUTH_EVENTS)
    from oauthbearer.client.confluent import oauth_cb

    config = consumer_config(s)
    assert config["sasl.mechanism"] == "OAUTHBEARER"
    assert config["oauth_cb"] is oauth_cb


WEBHOOKS = {**BASE, "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET": "fake-emitter-secret"}


def test_check_says_when_webhook_revocations_stay_in_one_process() -> None:
    alone = describe(WEBHOOKS)
    assert "webhooks for the Keycloak emitter (any user name)" in alone
    assert f"WARNING: {LOCAL_ONLY_WARNING}" in alone
    shared = describe(
        {
            **WEBHOOKS,
            "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "k:9092",
            "OAUTHBEARER_REVOCATIONS_TOPIC": "oauthbearer-revocations",
        }
    )
    assert LOCAL_ONLY_WARNING not in shared
    assert "replicas: webhook revocations are shared through oauthbearer-revocations" in shared
    assert "fake-emitter-secret" not in alone + shared


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_start_up_warns_when_a_jwks_is_trusted_for_any_issuer() -> None:
    logger, lines = logging.getLogger("oauthbearer.sidecar"), Lines()
    logger.addHandler(lines)
    try:
        for env in (BASE, {**BASE, "OAUTHBEARER_ISSUER": "https://idp.example"}):
            app = create_app(SidecarSettings.from_env(env), http_client=httpx.AsyncClient())
            async with asgi_client(app):
                pass
    finally:
        logger.removeHandler(lines)
    assert lines.lines.count(ANY_ISSUER_WARNING) == 1  # the first only


async def test_start_up_warns_when_webhook_revocations_stay_in_one_process() -> None:
    logger, lines = logging.getLogger("oauthbearer.sidecar"), Lines()
    logger.addHandler(lines)
    try:
        app = create_app(SidecarSettings.from_env(WEBHOOKS), http_client=httpx.AsyncClient())
        async with asgi_client(app):
            pass
    finally:
        logger.removeHandler(lines)
    assert LOCAL_ONLY_WARNING in lines.lines


@pytest.mark.parametrize("content", ["   ", " \n\t\n"])
def test_an_emitter_secret_file_of_whitespace_fails_at_start_up(
    tmp_path: Path, content: str
) -> None:
    # check and serve reported "webhooks for the Keycloak emitter", and every call was
    # refused: a blank secret never matches.
    secret = tmp_path / "emitter-secret"
    secret.write_text(content)
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE"):
        settings(OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE=str(secret))


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        (
            {"OAUTHBEARER_EVENTS_SASL_USERNAME": "u", "OAUTHBEARER_EVENTS_SASL_PASSWORD": "p"},
            "OAUTHBEARER_EVENTS_SASL_USERNAME",
        ),
        ({"OAUTHBEARER_EVENTS_SASL_PASSWORD": "p"}, "OAUTHBEARER_EVENTS_SASL_PASSWORD"),
        ({"OAUTHBEARER_EVENTS_CA_FILE": "/etc/ssl/kafka-ca.pem"}, "OAUTHBEARER_EVENTS_CA_FILE"),
    ],
)
def test_credentials_for_a_protocol_that_sends_none_are_refused(
    env: dict[str, str], variable: str
) -> None:
    # With the default PLAINTEXT they were dropped without a word: the consumer connected
    # unauthenticated while the operator believed it logged in.
    with pytest.raises(ConfigurationError) as info:
        settings(
            OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS="k:9093",
            OAUTHBEARER_REVOCATIONS_TOPIC="revs",
            **env,
        )
    assert info.value.variable == variable
    assert "PLAINTEXT" in str(info.value)
