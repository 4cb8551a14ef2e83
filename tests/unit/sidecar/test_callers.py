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
