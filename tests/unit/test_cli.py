"""`oauthbearer check` judges whichever halves the environment configures."""

from __future__ import annotations

from pathlib import Path

import pytest

from oauthbearer.cli import main
from oauthbearer.sidecar.warnings import ANY_ISSUER_WARNING

CLIENT = {
    "OAUTH_LOGIN_SERVER": "idp.example:8443",
    "OAUTH_LOGIN_ENDPOINT": "/token",
    "OAUTH_AUTHORIZATION": "Basic ZmFrZTpmYWtl",
}
SIDECAR = {
    "OAUTHBEARER_JWKS_URL": "https://idp.example/jwks",
    "OAUTHBEARER_ISSUER": "https://idp.example",
    "OAUTHBEARER_CALLERS": "broker:fake-cli-caller-secret",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    import os

    for name in list(os.environ):
        if name.startswith(("OAUTH_", "OAUTHBEARER_")):
            monkeypatch.delenv(name)
    return monkeypatch


def _set(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_check_describes_both_halves_when_both_are_configured(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _set(clean_env, CLIENT | SIDECAR)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("client: client_credentials at https://idp.example:8443/token")
    assert "sidecar: listening on 127.0.0.1:8080" in out
    assert "fake-cli-caller-secret" not in out
    assert "ZmFrZTpmYWtl" not in out
    assert "WARNING" not in out  # each half's names are known when both are checked


def test_check_warns_when_a_jwks_is_trusted_for_any_issuer(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Entra ID's "common" keys sign every tenant's tokens: without an issuer to require,
    # another tenant's token would be active here.
    _set(clean_env, {k: v for k, v in SIDECAR.items() if k != "OAUTHBEARER_ISSUER"})
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert f"WARNING: {ANY_ISSUER_WARNING}" in out


def test_check_judges_only_the_configured_half(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _set(clean_env, SIDECAR | {"OAUTH_WITH_SSL": "false"})  # shared switch configures nothing
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "sidecar:" in out
    assert "client:" not in out


def test_check_with_nothing_configured_exits_2(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 2
    assert capsys.readouterr().err.startswith("oauthbearer check: environment: configures neither")


def test_forced_half_reports_its_missing_variable(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _set(clean_env, CLIENT)
    assert main(["check", "--sidecar"]) == 2
    assert capsys.readouterr().err.startswith("oauthbearer check: OAUTHBEARER_JWKS_URL:")


def test_check_reads_an_env_file_instead_of_the_environment(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _set(clean_env, {"OAUTHBEARER_JWKS_URL": "not a url"})  # ignored: the file wins
    env_file = tmp_path / "sidecar.env"
    env_file.write_text(
        "# the sidecar\n"
        'OAUTHBEARER_JWKS_URL="https://idp.example/jwks"\n'
        "export OAUTHBEARER_CALLERS=broker:fake-cli-caller-secret\n"
    )
    assert main(["check", "--env-file", str(env_file)]) == 0
    assert "jwks: https://idp.example/jwks" in capsys.readouterr().out


def test_env_file_syntax_error_names_the_line(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("OAUTHBEARER_JWKS_URL=https://idp.example/jwks\nthis is not\n")
    assert main(["check", "--env-file", str(env_file)]) == 2
    assert f"{env_file}:2: expected NAME=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["missing", "directory", "latin-1"])
def test_an_unreadable_env_file_is_an_error_not_a_traceback(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "sidecar.env"
    if kind == "directory":
        path.mkdir()
    elif kind == "latin-1":
        path.write_bytes("OAUTHBEARER_CALLERS=broker:caf\xe9\n".encode("latin-1"))
    assert main(["check", "--env-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("oauthbearer check: --env-file: ")
    assert "Traceback" not in err


def test_check_reports_a_misspelt_variable_with_the_closest_name(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _set(
        clean_env,
        SIDECAR
        | {
            "OAUTHBEARER_CACHE_TTTL": "5",  # one letter too many
            "OAUTHBEARER_LOGIN_CLIENTID": "kafka",  # the client half's, misspelt
            "OAUTHBEARER_WHATEVER": "1",  # nothing close
            "OAUTHBEARER_TEST_KAFKA_BUNDLE": "/opt/kafka",  # our test tooling's: not reported
        },
    )
    assert main(["check"]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "WARNING" in line]
    assert warnings == [
        "WARNING: OAUTHBEARER_CACHE_TTTL is not a known variable and is ignored "
        "(did you mean OAUTHBEARER_CACHE_TTL?)",
        "WARNING: OAUTHBEARER_LOGIN_CLIENTID is not a known variable and is ignored "
        "(did you mean OAUTHBEARER_LOGIN_CLIENT_ID?)",
        "WARNING: OAUTHBEARER_WHATEVER is not a known variable and is ignored",
    ]


def test_serve_reports_a_misspelt_variable_at_start_up(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # No way to verify tokens: serve stops at its configuration error, after the warning.
    _set(clean_env, {"OAUTHBEARER_CALERS": "broker:fake-cli-caller-secret"})
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "oauthbearer serve: WARNING: OAUTHBEARER_CALERS is not a known variable and is "
        "ignored (did you mean OAUTHBEARER_CALLERS?)"
    )
    assert err[1].startswith("oauthbearer serve: OAUTHBEARER_JWKS_URL:")
    assert "fake-cli-caller-secret" not in "\n".join(err)


def test_serve_reports_the_clients_names_as_the_clients(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _set(clean_env, {"OAUTHBEARER_LOGIN_CLIENT_ID": "kafka", "OAUTHBEARER_CLIENT_ID": "kafka"})
    assert main(["serve"]) == 2  # no way to verify tokens: stops after the warnings
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == [
        "oauthbearer serve: WARNING: OAUTHBEARER_CLIENT_ID is not a known variable and is "
        "ignored (did you mean OAUTHBEARER_LOGIN_CLIENT_ID?)",
        "oauthbearer serve: WARNING: OAUTHBEARER_LOGIN_CLIENT_ID is read by the client "
        "(oauth_cb, `oauthbearer token`), not by `oauthbearer serve`, and is ignored here",
    ]


def test_serve_whose_events_consumer_uses_oauth_cb_reads_the_clients_names(
    clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # OAUTHBEARER_EVENTS_OAUTH=true: the sidecar's own consumer logs in with our oauth_cb,
    # configured by the client's variables of the same process.
    _set(clean_env, {"OAUTHBEARER_LOGIN_CLIENT_ID": "kafka", "OAUTHBEARER_EVENTS_OAUTH": "true"})
    assert main(["serve"]) == 2
    assert "WARNING" not in capsys.readouterr().err


def test_the_halves_namespaces_are_told_apart_by_prefix() -> None:
    # The client judges a name it does not know by its prefix (it never imports the
    # sidecar's list): that holds only while the namespaces stay disjoint.
    from oauthbearer._unknown import owner
    from oauthbearer.cli import _variables_of

    for half in ("client", "sidecar"):
        for name in _variables_of(half):
            if name.startswith("OAUTHBEARER_"):
                assert owner(name) == half, name


def test_python_dash_m_oauthbearer_is_the_command() -> None:
    import subprocess
    import sys

    import oauthbearer

    done = subprocess.run(
        [sys.executable, "-m", "oauthbearer", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert oauthbearer.__version__ in done.stdout
