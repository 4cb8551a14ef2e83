"""Configuration from the environment, the single list of variables, and the CLI."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from oauthbearer._env import header_value
from oauthbearer.cli import build_parser, main
from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.cli import describe
from oauthbearer.sidecar.settings import FILE_VARIABLES, VARIABLES, SidecarSettings, Variable

SIDECAR_DIR = Path(__file__).resolve().parents[3] / "oauthbearer" / "sidecar"
JWKS = {"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks"}
CALLERS = {"OAUTHBEARER_CALLERS": "broker:fake-secret"}
UPSTREAM = {
    "OAUTH_INTROSPECT_SERVER": "idp.example:8443",
    "OAUTH_INTROSPECT_ENDPOINT": "oauth2/introspect",
    "OAUTH_INTROSPECT_AUTHORIZATION": "Basic ZmFrZTpmYWtl",
}


def test_upstream_block_mirrors_jairsjunior() -> None:
    s = SidecarSettings.from_env({**UPSTREAM, **CALLERS})
    assert s.upstream_url == "https://idp.example:8443/oauth2/introspect"
    assert s.upstream_authorization is not None
    assert s.upstream_authorization.reveal() == "Basic ZmFrZTpmYWtl"
    assert s.upstream_timeout <= 3
    plain = SidecarSettings.from_env({**UPSTREAM, **CALLERS, "OAUTH_WITH_SSL": "false"})
    assert plain.upstream_url == "http://idp.example:8443/oauth2/introspect"


def test_an_introspect_server_with_a_context_root_is_joined_as_jairsjunior_joins_it() -> None:
    s = SidecarSettings.from_env(
        {
            **UPSTREAM,
            **CALLERS,
            "OAUTH_INTROSPECT_SERVER": "kc.example:8080/auth",
            "OAUTH_INTROSPECT_ENDPOINT": "/realms/kafka/protocol/openid-connect/token/introspect",
        }
    )
    assert s.upstream_url == (
        "https://kc.example:8080/auth/realms/kafka/protocol/openid-connect/token/introspect"
    )


def test_defaults() -> None:
    s = SidecarSettings.from_env({**JWKS, **CALLERS})
    assert (s.listen_host, s.listen_port) == ("127.0.0.1", 8080)
    assert s.upstream_url is None
    assert "none" not in s.algorithms
    assert s.cache_ttl == 60


def test_neither_source_is_a_startup_error() -> None:
    with pytest.raises(ConfigurationError, match="OAUTHBEARER_JWKS_URL"):
        SidecarSettings.from_env(CALLERS)


def test_no_callers_is_a_startup_error_with_a_clear_message() -> None:
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env(JWKS)
    assert info.value.variable == "OAUTHBEARER_CALLERS"
    assert "OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS=true" in str(info.value)
    s = SidecarSettings.from_env({**JWKS, "OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS": "true"})
    assert s.allow_anonymous


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OAUTHBEARER_JWT_ALGORITHMS": "RS256,none"}, "OAUTHBEARER_JWT_ALGORITHMS"),
        ({"OAUTHBEARER_JWT_ALGORITHMS": "HS256"}, "OAUTHBEARER_JWT_ALGORITHMS"),
        ({"OAUTHBEARER_LISTEN": "8080"}, "OAUTHBEARER_LISTEN"),
        ({"OAUTHBEARER_CACHE_TTL": "-1"}, "OAUTHBEARER_CACHE_TTL"),
        ({"OAUTHBEARER_UPSTREAM_TIMEOUT": "0"}, "OAUTHBEARER_UPSTREAM_TIMEOUT"),
        ({"OAUTHBEARER_CALLERS": "broker"}, "OAUTHBEARER_CALLERS"),
        ({"OAUTHBEARER_CALLERS": "a:x,a:y"}, "OAUTHBEARER_CALLERS"),
        ({"OAUTHBEARER_JWKS_URL": "ftp://x"}, "OAUTHBEARER_JWKS_URL"),
        ({"OAUTH_INTROSPECT_SERVER": "https://idp"}, "OAUTH_INTROSPECT_SERVER"),
        ({"OAUTH_INTROSPECT_SERVER": "idp:443"}, "OAUTH_INTROSPECT_ENDPOINT"),
        ({"OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS": "yes"}, "OAUTHBEARER_ALLOW_ANONYMOUS_CALLERS"),
        ({"OAUTHBEARER_LOG_LEVEL": "LOUD"}, "OAUTHBEARER_LOG_LEVEL"),
        ({"OAUTHBEARER_CA_FILE": "/nonexistent/ca.pem"}, "OAUTHBEARER_CA_FILE"),
        ({"OAUTHBEARER_METRICS_LISTEN": "9404"}, "OAUTHBEARER_METRICS_LISTEN"),
        ({"OAUTHBEARER_METRICS_LISTEN": "0.0.0.0:8080"}, "OAUTHBEARER_METRICS_LISTEN"),
        # Found by a review of odd settings; each passed `check` (or was a traceback):
        ({"OAUTHBEARER_LISTEN": "127.0.0.1:\u00b2"}, "OAUTHBEARER_LISTEN"),  # "²".isdigit()
        ({"OAUTHBEARER_METRICS_LISTEN": "127.0.0.1:\u00b2"}, "OAUTHBEARER_METRICS_LISTEN"),
        ({"OAUTHBEARER_CALLERS": ","}, "OAUTHBEARER_CALLERS"),  # no entry: "no callers" dodged
        ({**UPSTREAM, "OAUTH_INTROSPECT_ENDPOINT": "/i\r\nX-Evil: 1"}, "OAUTH_INTROSPECT_ENDPOINT"),
        ({**UPSTREAM, "OAUTH_INTROSPECT_SERVER": "idp\t.example"}, "OAUTH_INTROSPECT_SERVER"),
        ({"OAUTH_WITH_SSL": "banana"}, "OAUTH_WITH_SSL"),  # judged with no upstream too
        (
            {"OAUTH_INTROSPECT_AUTHORIZATION": "Basic ZmFrZTpmYWtl"},  # and no upstream
            "OAUTH_INTROSPECT_AUTHORIZATION",
        ),
        (
            {
                "OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS": "kafka:9092",
                "OAUTHBEARER_EVENTS_TOPIC": "a",
                "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS": "a",
            },
            "OAUTHBEARER_KEYCLOAK_EVENT_TOPICS",  # not the revocations topic, which is unset
        ),
    ],
)
def test_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env({**JWKS, **CALLERS, **env})
    assert info.value.variable == variable


def test_the_metrics_listener_is_off_unless_asked_for() -> None:
    assert SidecarSettings.from_env({**JWKS, **CALLERS}).metrics_listen is None
    asked = SidecarSettings.from_env({**JWKS, **CALLERS, "OAUTHBEARER_METRICS_LISTEN": ":::9404"})
    assert asked.metrics_listen == ("::", 9404)


def test_caller_secret_never_in_error_message() -> None:
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env({**JWKS, "OAUTHBEARER_CALLERS": "ok:fine,broken-fake-secret"})
    assert "broken-fake-secret" not in str(info.value)


def test_callers_file(tmp_path: Path) -> None:
    path = tmp_path / "callers"
    path.write_text("broker:fake-from-file\n")
    s = SidecarSettings.from_env({**JWKS, "OAUTHBEARER_CALLERS_FILE": str(path)})
    assert s.callers is not None
    assert s.callers.reveal() == "broker:fake-from-file"


def test_every_variable_read_is_listed() -> None:
    """The single list in settings.VARIABLES covers every name in the sidecar's source."""
    listed = {v.name for v in VARIABLES}
    assert len(listed) == len(VARIABLES)
    read: set[str] = set()
    for path in SIDECAR_DIR.glob("*.py"):
        read |= set(re.findall(r'"((?:OAUTH|OAUTHBEARER)_[A-Z_]+)"', path.read_text()))
    assert read <= listed | set(FILE_VARIABLES)
    # Every _FILE variant belongs to a listed variable that is marked "(+_FILE)" in help.
    marked = {v.name for v in VARIABLES if "(+_FILE)" in v.help}
    assert {name.removesuffix("_FILE") for name in FILE_VARIABLES} == marked
    assert all(
        v.name.startswith(("OAUTH_INTROSPECT_", "OAUTH_WITH_SSL", "OAUTHBEARER_"))
        for v in VARIABLES
    )
    assert not any(v.name.startswith("OAUTHBEARER_LOGIN_") for v in VARIABLES)


def test_serve_help_documents_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    out = capsys.readouterr().out
    for var in VARIABLES:
        assert var.name in out
    assert "--listen" in out
    assert "worst-case" in out.lower()


def test_describe_never_shows_secrets() -> None:
    text = describe({**UPSTREAM, **JWKS, "OAUTHBEARER_CALLERS": "broker:fake-topsecret"})
    assert "broker" in text
    assert "fake-topsecret" not in text
    assert "ZmFrZTpmYWtl" not in text
    assert "https://idp.example:8443/oauth2/introspect" in text


def test_check_sidecar_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in VARIABLES:
        monkeypatch.delenv(var.name, raising=False)
    monkeypatch.setenv("OAUTHBEARER_JWKS_URL", "https://idp.example/jwks")
    assert main(["check", "--sidecar"]) == 2
    assert "OAUTHBEARER_CALLERS" in capsys.readouterr().err
    monkeypatch.setenv("OAUTHBEARER_CALLERS", "broker:fake-secret")
    assert main(["check", "--sidecar"]) == 0
    assert "sidecar: listening on 127.0.0.1:8080" in capsys.readouterr().out


_MINIMAL = {"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks", "OAUTHBEARER_CALLERS": "b:x"}


@pytest.mark.parametrize("variable", [v for v in VARIABLES if v.default], ids=lambda v: v.name)
def test_documented_default_is_the_default_in_effect(variable: Variable) -> None:
    # VARIABLES states defaults for --help and env.example; the settings take theirs from
    # the dataclass fields. Setting a variable to its documented default must change
    # nothing, and (for numbers) setting it to something else must change something.
    unset = SidecarSettings.from_env(_MINIMAL)
    assert SidecarSettings.from_env({**_MINIMAL, variable.name: variable.default}) == unset
    if variable.default.isdigit():
        other = str(int(variable.default) + 1)
        assert SidecarSettings.from_env({**_MINIMAL, variable.name: other}) != unset


@pytest.mark.parametrize(
    "variable", ["OAUTHBEARER_ISSUER", "OAUTHBEARER_AUDIENCE", "OAUTHBEARER_JWT_TYP"]
)
def test_jwt_checks_without_a_jwks_are_refused_not_ignored(variable: str) -> None:
    # Upstream only: set, they were never applied to the upstream's answers.
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env({**UPSTREAM, **CALLERS, variable: "x"})
    assert info.value.variable == variable


def test_blank_secrets_count_as_unset() -> None:
    # A Keycloak emitter secret of " " turned the webhook on, and anyone could revoke.
    s = SidecarSettings.from_env({**JWKS, **CALLERS, "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET": " "})
    assert s.keycloak_emitter_secret is None
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env({**JWKS, "OAUTHBEARER_CALLERS": "  "})
    assert info.value.variable == "OAUTHBEARER_CALLERS"  # "no callers configured"


def test_the_upstream_authorization_is_sent_without_surrounding_spaces() -> None:
    # Sent as given, the HTTP library refused every call: a 503 per introspection.
    s = SidecarSettings.from_env(
        {**UPSTREAM, **CALLERS, "OAUTH_INTROSPECT_AUTHORIZATION": " Basic eA== "}
    )
    assert s.upstream_authorization is not None
    assert header_value("X", s.upstream_authorization.reveal()) == "Basic eA=="


def test_a_ca_bundle_without_a_certificate_is_refused_at_start(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env({**JWKS, **CALLERS, "OAUTHBEARER_CA_FILE": str(bundle)})
    assert info.value.variable == "OAUTHBEARER_CA_FILE"


def test_urls_are_shown_without_their_credentials() -> None:
    env = {
        **CALLERS,
        "OAUTHBEARER_JWKS_URL": "https://admin:fake-url-password@idp.example/jwks?access_token=t0k",
    }
    summary = describe(env)
    assert "fake-url-password" not in summary
    assert "t0k" not in summary
    assert "https://idp.example/jwks?…" in summary
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env({**CALLERS, "OAUTHBEARER_JWKS_URL": "ftp://u:fake-pw@x/j"})
    assert "fake-pw" not in str(info.value)
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env(
            {**CALLERS, **UPSTREAM, "OAUTH_INTROSPECT_SERVER": "u:fake-pw@idp"}
        )
    assert "fake-pw" not in str(info.value)


@pytest.mark.parametrize("variable", ["OAUTHBEARER_LISTEN", "OAUTHBEARER_METRICS_LISTEN"])
def test_serve_refuses_an_address_in_use_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str
) -> None:
    # uvicorn logged its own error after "startup complete" and exited, naming nothing
    # (the main listener), or a traceback came from the lifespan (the metrics one).
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for name, value in {**JWKS, **CALLERS}.items():
            monkeypatch.setenv(name, value)
        listen = f"127.0.0.1:{port}" if variable == "OAUTHBEARER_LISTEN" else "127.0.0.1:0"
        if variable == "OAUTHBEARER_METRICS_LISTEN":
            monkeypatch.setenv(variable, f"127.0.0.1:{port}")
        assert main(["serve", "--listen", listen]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"oauthbearer serve: {variable}: cannot listen on")
    assert "Traceback" not in err
