"""`oauthbearer token` and `oauthbearer check` through the real dispatcher."""

from __future__ import annotations

import json
import logging
import os
import time

import httpx
import pytest
import respx

from oauthbearer.cli import main
from oauthbearer.client.cli import describe
from oauthbearer.errors import ConfigurationError

from .conftest import TOKEN_URL, make_jwt, token_response

ENV = {
    "OAUTH_LOGIN_SERVER": "idp.example",
    "OAUTH_LOGIN_ENDPOINT": "/oauth2/token",
    "OAUTH_LOGIN_SCOPE": "kafka",
    "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka-cli",
    "OAUTHBEARER_LOGIN_CLIENT_SECRET": "fake-cli-secret",
    "OAUTHBEARER_LOGIN_SASL_EXTENSIONS": "logicalCluster=lkc-1",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(("OAUTH_", "OAUTHBEARER_")):
            monkeypatch.delenv(name)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_check_prints_the_configuration(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        "client: client_credentials at https://idp.example/oauth2/token (client_secret_basic), "
        "scope=kafka, extensions=logicalCluster"
    )
    assert "fake-cli-secret" not in out


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OAUTH_WITH_SSL", "sometimes"),
        ("OAUTH_LOGIN_ENDPOINT", ""),
        ("OAUTHBEARER_LOGIN_SASL_EXTENSIONS", "auth=nope"),
        ("OAUTHBEARER_LOGIN_AUTH_METHOD", "private_key_jwt"),
    ],
)
def test_check_exits_2_naming_the_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    env.setenv(name, value)
    expected = "OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE" if name.endswith("AUTH_METHOD") else name
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"oauthbearer check: {expected}:")


def test_describe_raises_for_a_combined_check() -> None:
    with pytest.raises(ConfigurationError) as info:
        describe({"OAUTHBEARER_LOGIN_ISSUER": "not a url"})
    assert info.value.variable == "OAUTHBEARER_LOGIN_ISSUER"
    assert describe({"OAUTHBEARER_LOGIN_ISSUER": "https://idp.example"}).startswith(
        "client: client_credentials via discovery from https://idp.example (none)"
    )


@respx.mock
def test_token_prints_json_without_the_token(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jwt = make_jwt({"sub": "svc-cli", "exp": int(time.time()) + 600})
    respx.post(TOKEN_URL).mock(return_value=token_response(jwt, expires_in=900, scope="kafka"))
    assert main(["token"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["principal"] == "svc-cli"
    assert report["scope"] == "kafka"
    assert report["fingerprint"].startswith("sha256:")
    assert time.time() + 500 < report["expires_at"] < time.time() + 600
    assert report["extensions"] == {"logicalCluster": "lkc-1"}
    assert "access_token" not in report
    assert jwt not in out


@respx.mock
def test_token_shows_the_token_only_when_asked(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    respx.post(TOKEN_URL).mock(return_value=token_response("visible-token"))
    assert main(["token", "--show-token"]) == 0
    assert json.loads(capsys.readouterr().out)["access_token"] == "visible-token"


@respx.mock
def test_token_failure_exits_2_with_the_cause(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    assert main(["token"]) == 2
    err = capsys.readouterr().err
    assert "HTTP 401" in err
    assert "invalid_client" in err
    assert "fake-cli-secret" not in err


@respx.mock
def test_token_reports_each_unknown_name_once_against_the_client_half(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    env.setenv("OAUTHBEARER_CA_FILE", "/etc/ssl/private-ca.pem")  # the sidecar's name
    env.setenv("OAUTHBEARER_LOGIN_CLIENT_ASSERTION", "fake-cli-assertion")  # files only
    respx.post(TOKEN_URL).mock(return_value=token_response())
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        assert main(["token"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "oauthbearer token: WARNING: OAUTHBEARER_CA_FILE is read by `oauthbearer serve`, "
        "not by the client (oauth_cb, `oauthbearer token`), and is ignored here "
        "(did you mean OAUTHBEARER_LOGIN_CA_FILE?)",
        "oauthbearer token: WARNING: OAUTHBEARER_LOGIN_CLIENT_ASSERTION is not a known "
        "variable and is ignored (did you mean OAUTHBEARER_LOGIN_CLIENT_ASSERTION_FILE? "
        "it is read from a file)",
    ]
    # Said by the command: the library, reading the same environment, stays quiet.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_check_of_the_client_alone_reports_the_sidecars_names(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("OAUTHBEARER_PRINCIPAL_CLAIM", "preferred_username")
    assert main(["check", "--client"]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "WARNING" in line]
    assert warnings == [
        "WARNING: OAUTHBEARER_PRINCIPAL_CLAIM is read by `oauthbearer serve`, not by the "
        "client (oauth_cb, `oauthbearer token`), and is ignored here "
        "(did you mean OAUTHBEARER_LOGIN_PRINCIPAL_CLAIM?)"
    ]
