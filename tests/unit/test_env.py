"""Typed environment parsing: every error names its variable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from oauthbearer._env import Env
from oauthbearer._secret import FileSecret, Secret, fingerprint
from oauthbearer.errors import ConfigurationError


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("TRUE", True), ("False", False)])
def test_flag_accepts_only_true_or_false_any_case(raw: str, expected: bool) -> None:
    assert Env({"OAUTH_WITH_SSL": raw}).flag("OAUTH_WITH_SSL", default=True) is expected


def test_flag_default_applies_when_unset_or_empty() -> None:
    assert Env({}).flag("OAUTH_WITH_SSL", default=True) is True
    assert Env({"OAUTH_WITH_SSL": ""}).flag("OAUTH_WITH_SSL", default=True) is True


def test_flag_refuses_other_words_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^OAUTH_WITH_SSL: must be true or false"):
        Env({"OAUTH_WITH_SSL": "yes"}).flag("OAUTH_WITH_SSL", default=True)


def test_number_range_and_type_errors_name_the_variable() -> None:
    env = Env({"A": "x", "B": "-1", "C": "nan"})
    with pytest.raises(ConfigurationError, match=r"^A: must be a number"):
        env.number("A", 1.0)
    with pytest.raises(ConfigurationError, match=r"^B: must be at least 0"):
        env.number("B", 1.0, minimum=0)
    with pytest.raises(ConfigurationError, match=r"^C: must be a finite number"):
        env.number("C", 1.0)
    with pytest.raises(ConfigurationError, match=r"^A: must be an integer"):
        env.integer("A", 1)


@pytest.mark.parametrize(
    "value", ["https://idp", "idp:port", "idp:99999", ":8443", "idp host", "user@idp", "idp?x"]
)
def test_host_port_refuses_a_scheme_and_what_is_no_host(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^S: must be host\[:port\]"):
        Env({"S": value}).host_port("S")


@pytest.mark.parametrize(
    ("value", "server"),
    [
        ("idp:8443", "idp:8443"),
        ("idp:8443/", "idp:8443"),
        # jairsjunior builds scheme + SERVER + ENDPOINT, so an old Keycloak's context
        # root in the server variable works there and must work here.
        ("idp:8080/auth", "idp:8080/auth"),
        ("[::1]:8443", "[::1]:8443"),
    ],
)
def test_host_port_takes_a_path_prefix_as_jairsjunior_does(value: str, server: str) -> None:
    assert Env({"S": value}).host_port("S") == server


def test_url_requires_http_scheme() -> None:
    with pytest.raises(ConfigurationError, match=r"^U: must be an http\(s\) URL"):
        Env({"U": "ftp://x"}).url("U")


def test_secret_from_literal_is_masked() -> None:
    secret = Env({"S": "s3cr3t-value"}).secret("S")
    assert isinstance(secret, Secret)
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in str(secret)


def test_secret_file_and_literal_together_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "s"
    path.write_text("x")
    with pytest.raises(ConfigurationError, match=r"^S: set either S or S_FILE"):
        Env({"S": "a", "S_FILE": str(path)}).secret("S")


def test_missing_secret_file_fails_at_startup_naming_the_file_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^S_FILE: cannot read secret file"):
        Env({"S_FILE": str(tmp_path / "absent")}).secret("S")


def test_file_secret_rereads_after_rotation(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("first\n")
    secret = FileSecret(path)
    assert secret.reveal() == "first"
    path.write_text("second-longer\n")  # size changes, so the stamp moves even on coarse mtime
    assert secret.reveal() == "second-longer"
    assert "second" not in repr(secret)


def test_file_secret_reload_forces_a_read(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("aaaa")
    secret = FileSecret(path)
    assert secret.reveal() == "aaaa"
    stat = path.stat()
    path.write_text("bbbb")  # same size; restore the old mtime to defeat the stamp
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert secret.reveal() == "aaaa"
    secret.reload()
    assert secret.reveal() == "bbbb"


def test_file_secret_rereads_a_new_file_with_the_old_ones_size_and_mtime(tmp_path: Path) -> None:
    # How Kubernetes rotates a mounted Secret: a new file, and the symlink swapped to it.
    # Made with cp -p or tar, the new file can carry the old one's mtime and size.
    old, new, link = tmp_path / "v1", tmp_path / "v2", tmp_path / "secret"
    old.write_text("aaaa")
    link.symlink_to(old)
    secret = FileSecret(link)
    assert secret.reveal() == "aaaa"
    new.write_text("bbbb")
    stat = old.stat()
    os.utime(new, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    swapped = tmp_path / "secret.tmp"
    swapped.symlink_to(new)
    swapped.replace(link)  # atomic, as the kubelet does it
    old.unlink()
    assert secret.reveal() == "bbbb"


def test_fingerprint_is_short_and_stable() -> None:
    assert fingerprint("abc") == fingerprint(b"abc") == "sha256:ba7816bf8f01"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.mkdir(), "the secret file is not a regular file"),  # a Secret's directory
        (lambda p: os.mkfifo(p), "the secret file is not a regular file"),  # hung `check`
        (lambda p: p.write_bytes(b"x" * (1 << 20) + b"y"), "the secret file is over"),
        (lambda p: p.write_text("\n"), "the secret file is empty"),
        (lambda p: p.write_bytes(b"\xff\xfe"), "the secret file is not UTF-8"),
        (lambda p: None, "cannot read secret file"),  # missing
    ],
)
def test_a_secret_file_that_cannot_serve_names_its_variable(
    tmp_path: Path, make: Any, problem: str
) -> None:
    path = tmp_path / "secret"
    make(path)
    with pytest.raises(
        ConfigurationError, match=f"^OAUTHBEARER_LOGIN_CLIENT_SECRET_FILE: {problem}"
    ):
        FileSecret(path, "OAUTHBEARER_LOGIN_CLIENT_SECRET_FILE").reveal()
