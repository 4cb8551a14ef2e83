"""Caller credentials read from a file that rotates, including a rotation gone wrong."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from oauthbearer._secret import Secret
from oauthbearer.sidecar.callers import CallerAuthenticator


def test_broken_rotation_keeps_the_last_good_callers_and_names_the_variable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from oauthbearer._secret import FileSecret

    path = tmp_path / "event-callers"
    path.write_text("keycloak:fake-first-secret\n")
    auth = CallerAuthenticator(FileSecret(path), variable="OAUTHBEARER_EVENT_CALLERS")
    good = "Basic " + base64.b64encode(b"keycloak:fake-first-secret").decode()
    assert auth.authenticate(good) == "keycloak"

    path.write_text("no colon here, a broken rotation\n")
    with caplog.at_level(logging.ERROR, logger="oauthbearer.sidecar.callers"):
        assert auth.authenticate(good) == "keycloak"
        assert auth.authenticate(good) == "keycloak"
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 1  # logged once, not per request
    assert errors[0].startswith("OAUTHBEARER_EVENT_CALLERS:")
    assert "fake-first-secret" not in errors[0]

    path.write_text("keycloak:fake-second-secret\n")
    second = "Basic " + base64.b64encode(b"keycloak:fake-second-secret").decode()
    assert auth.authenticate(second) == "keycloak"
    assert auth.authenticate(good) is None


def test_the_emitter_secret_never_lets_an_empty_or_unreadable_one_pass(tmp_path: Path) -> None:
    from oauthbearer._secret import FileSecret
    from oauthbearer.errors import ConfigurationError
    from oauthbearer.sidecar.callers import SharedSecretAuthenticator
    from oauthbearer.sidecar.settings import SidecarSettings

    path = tmp_path / "emitter-secret"
    path.write_text("\n")  # a mis-templated Secret key
    environ = {
        "OAUTHBEARER_JWKS_URL": "https://idp.example/jwks",
        "OAUTHBEARER_CALLERS": "broker:fake-broker-secret",
        "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE": str(path),
    }
    with pytest.raises(
        ConfigurationError, match=r"^OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE: the secret file"
    ):
        SidecarSettings.from_env(environ)

    path.write_text("fake-emitter-secret\n")
    auth = SharedSecretAuthenticator(FileSecret(path, "OAUTHBEARER_KEYCLOAK_EMITTER_SECRET_FILE"))
    good = "Basic " + base64.b64encode(b"keycloak-0:fake-emitter-secret").decode()
    anyone = "Basic " + base64.b64encode(b"attacker:").decode()
    assert auth.authenticate(good) == "keycloak-0"
    path.write_text("")  # the instant `echo new > file` has truncated it
    assert auth.authenticate(anyone) is None
    assert auth.authenticate(good) is None
    path.unlink()  # gone mid-rotation: refused, not a 500
    assert auth.authenticate(anyone) is None


@pytest.mark.pure_python  # replaces a compiled function (oauthbearer/_compiled.py)
def test_an_accepted_header_is_remembered_until_the_credentials_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauthbearer._secret import FileSecret
    from oauthbearer.sidecar import callers

    checks: list[str] = []
    real_check = callers._check_basic

    def counting(table: dict[str, bytes], credentials: str) -> str | None:
        checks.append(credentials)
        return real_check(table, credentials)

    monkeypatch.setattr(callers, "_check_basic", counting)
    path = tmp_path / "callers"
    path.write_text("broker-1:fake-secret-1,broker-2:fake-secret-2\n")
    auth = CallerAuthenticator(FileSecret(path))
    one = "Basic " + base64.b64encode(b"broker-1:fake-secret-1").decode()
    wrong = "Basic " + base64.b64encode(b"broker-2:fake-wrong").decode()

    assert [auth.authenticate(one) for _ in range(3)] == ["broker-1"] * 3
    assert len(checks) == 1  # decoded and compared once, then remembered
    assert [auth.authenticate(wrong) for _ in range(2)] == [None, None]
    assert len(checks) == 3  # a refusal is judged every time, never remembered

    path.write_text("broker-2:fake-secret-2\n")  # broker-1 removed by a rotation
    assert auth.authenticate(one) is None
    path.write_text("broker-1:fake-secret-1\n")
    assert auth.authenticate(one) == "broker-1"


def test_the_memo_of_accepted_headers_is_bounded() -> None:
    from oauthbearer._secret import Secret
    from oauthbearer.sidecar.callers import MAX_ACCEPTED_HEADERS

    auth = CallerAuthenticator(Secret("broker:fake-secret"))
    # The same credentials spelled many ways (padding, alphabet, spaces) are each accepted.
    headers = [
        "Basic" + " " * n + base64.b64encode(b"broker:fake-secret").decode()
        for n in range(1, MAX_ACCEPTED_HEADERS + 10)
    ]
    assert all(auth.authenticate(h) == "broker" for h in headers)
    assert len(auth._accepted) <= MAX_ACCEPTED_HEADERS


def test_a_long_accepted_header_is_checked_every_time_not_remembered() -> None:
    from oauthbearer._secret import Secret
    from oauthbearer.sidecar.callers import MAX_REMEMBERED_HEADER

    auth = CallerAuthenticator(Secret("broker:fake-secret"))
    credentials = base64.b64encode(b"broker:fake-secret").decode()
    padded = "Basic" + " " * MAX_REMEMBERED_HEADER + credentials  # accepted: spaces stripped
    assert auth.authenticate(padded) == "broker"
    assert auth._accepted == {}  # a caller cannot make the memo hold what it pads with
    short = "Basic " + credentials
    assert auth.authenticate(short) == "broker"
    assert list(auth._accepted) == [short]


def _basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no credentials"),
        ("  ", "no credentials"),
        (_basic("broker-1:stale-secret"), "wrong secret for caller 'broker-1'"),
        (_basic("stranger:whatever"), "unknown caller id"),
        # A secret pasted where the id goes must not reach the log.
        (_basic("fake-pasted-secret-value"), "malformed Basic credentials"),
        ("Basic !!!", "malformed Basic credentials"),
        ("Bearer not-a-configured-token", "a bearer token, and no bearer callers are configured"),
        # A token sent without its scheme: its first word must not be echoed either.
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "an unsupported scheme"),
        ("Digest username=x", "an unsupported scheme"),
    ],
)
def test_the_reason_for_a_refusal_names_only_our_own_caller_ids(
    header: str | None, reason: str
) -> None:
    auth = CallerAuthenticator(callers=Secret("broker-1:fake-current-secret"))
    assert auth.authenticate(header) is None
    assert auth.why_refused(header) == reason


def test_the_reason_for_a_refused_bearer_token_does_not_quote_it() -> None:
    auth = CallerAuthenticator(bearer_tokens=Secret("broker-1:fake-static-bearer"))
    assert auth.why_refused("Bearer fake-wrong-bearer") == "unknown bearer token"
    assert auth.why_refused(_basic("broker-1:x")) == (
        "Basic credentials, and no Basic callers are configured"
    )
