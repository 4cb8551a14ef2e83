"""Caller credentials read from a file that rotates, including a rotation gone wrong."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

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
