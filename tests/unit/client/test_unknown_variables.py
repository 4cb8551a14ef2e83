"""Library users hear about OAUTHBEARER_* variables the client does not read.

oauth_cb, TokenProvider.from_env and the adapters never run the CLI that used to be the
only place such names were reported: a misspelt variable silently configured nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from oauthbearer.client.confluent import reset_default_provider
from oauthbearer.client.environment import settings_from_env
from oauthbearer.client.kafka_python import KafkaPythonTokenProvider
from oauthbearer.client.provider import TokenCache, TokenProvider

from .conftest import TOKEN_URL

ASSERTION = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcmRlcnMifQ.c2lnbmF0dXJl"


@pytest.fixture
def assertion_file(tmp_path: Path) -> str:
    path = tmp_path / "assertion.jwt"
    path.write_text(ASSERTION)
    return str(path)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "oauthbearer.client" and r.levelno == logging.WARNING
    ]


def test_a_misspelt_variable_is_logged_once_per_process(
    caplog: pytest.LogCaptureFixture, assertion_file: str
) -> None:
    environ = {
        "OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL,
        "OAUTHBEARER_LOGIN_CLIENT_ID": "orders",
        "OAUTHBEARER_LOGIN_CLIENT_ASERTION_FILE": assertion_file,  # one S short
    }
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        assert settings_from_env(environ).auth_method == "none"  # what the name cost
        settings_from_env(environ)
        TokenProvider.from_env(environ, cache=TokenCache()).close()
    assert warnings_of(caplog) == [
        "OAUTHBEARER_LOGIN_CLIENT_ASERTION_FILE is not a known variable and is ignored "
        "(did you mean OAUTHBEARER_LOGIN_CLIENT_ASSERTION_FILE?)"
    ]


def test_the_sidecars_names_are_said_to_be_the_sidecars(caplog: pytest.LogCaptureFixture) -> None:
    environ = {
        "OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL,
        "OAUTHBEARER_CA_FILE": "/etc/ssl/private-ca.pem",
        "OAUTHBEARER_PRINCIPAL_CLAIM": "preferred_username",
    }
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        settings = settings_from_env(environ)
    assert settings.ca_file is None
    assert settings.principal_claim == "sub"
    logged = warnings_of(caplog)
    assert [line.split()[0] for line in logged] == [
        "OAUTHBEARER_CA_FILE",
        "OAUTHBEARER_PRINCIPAL_CLAIM",
    ]
    for line in logged:
        assert "is ignored by the client" in line
        assert "`oauthbearer serve`" in line
    assert logged[0].endswith("(did you mean OAUTHBEARER_LOGIN_CA_FILE?)")
    assert logged[1].endswith("(did you mean OAUTHBEARER_LOGIN_PRINCIPAL_CLAIM?)")
    assert "/etc/ssl" not in "".join(logged)  # names only: a value may be a credential
    assert "preferred_username" not in "".join(logged)


@pytest.mark.parametrize("name", ["CLIENT_ASSERTION", "PRIVATE_KEY", "SUBJECT_TOKEN"])
def test_a_value_that_must_come_from_a_file_points_at_the_file_variable(
    caplog: pytest.LogCaptureFixture, name: str
) -> None:
    variable = "OAUTHBEARER_LOGIN_" + name
    environ = {"OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL, variable: ASSERTION}
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        settings_from_env(environ)
    (logged,) = warnings_of(caplog)
    assert logged.startswith(f"{variable} is not a known variable and is ignored")
    assert logged.endswith(f"(did you mean {variable}_FILE? it is read from a file)")
    assert ASSERTION not in logged


def test_known_and_tooling_names_are_not_reported(caplog: pytest.LogCaptureFixture) -> None:
    environ = {
        "OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL,
        "OAUTHBEARER_LOGIN_SCOPE_TYPO_IS_NOT_HERE": "",  # an empty value is still set
        "OAUTHBEARER_TEST_KAFKA_BUNDLE": "/opt/kafka",  # our test tooling's
        "OAUTHBEARER_BENCH_COMPILED_SITE": "/opt/site",  # the benchmark's
        "OAUTHBEARER_COMPILE": "1",  # read when the package is built (setup.py)
        "OAUTH_WITH_SSL": "true",
        "PATH": "/usr/bin",
    }
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        settings_from_env(environ)
    assert [line.split()[0] for line in warnings_of(caplog)] == [
        "OAUTHBEARER_LOGIN_SCOPE_TYPO_IS_NOT_HERE"
    ]


@pytest.fixture
def default_provider_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("OAUTHBEARER_LOGIN_TOKEN_URL", TOKEN_URL)
    monkeypatch.setenv("OAUTHBEARER_LOGIN_CLIENT_IDD", "orders")
    reset_default_provider()
    yield monkeypatch
    reset_default_provider()


def test_an_adapter_on_the_environment_reports_a_misspelt_variable(
    default_provider_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        KafkaPythonTokenProvider()  # provider=None: built from os.environ
    assert warnings_of(caplog) == [
        "OAUTHBEARER_LOGIN_CLIENT_IDD is not a known variable and is ignored "
        "(did you mean OAUTHBEARER_LOGIN_CLIENT_ID?)"
    ]
