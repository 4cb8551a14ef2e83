"""The listener's TLS settings: bad files fail at start-up naming the variable; reloads."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.sidecar.tls import CertificateReloader, client_identity, server_context

BASE = {"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks", "OAUTHBEARER_CALLERS": "b:fake-s"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_pair(ca: trustme.CA, directory: Path, name: str = "server") -> tuple[Path, Path]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key_file.write_bytes(cert.private_key_pem.bytes())
    return cert_file, key_file


def test_a_valid_pair_makes_settings_with_tls(ca: trustme.CA, tmp_path: Path) -> None:
    cert, key = write_pair(ca, tmp_path)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    s = SidecarSettings.from_env(
        {
            **BASE,
            "OAUTHBEARER_TLS_CERT_FILE": str(cert),
            "OAUTHBEARER_TLS_KEY_FILE": str(key),
            "OAUTHBEARER_TLS_CLIENT_CA_FILE": str(ca_file),
        }
    )
    assert (s.tls_cert_file, s.tls_key_file, s.tls_client_ca_file) == (
        str(cert),
        str(key),
        str(ca_file),
    )
    context = server_context(str(cert), str(key), str(ca_file))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_client_certificates_alone_authenticate_callers(ca: trustme.CA, tmp_path: Path) -> None:
    cert, key = write_pair(ca, tmp_path)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    env = {
        "OAUTHBEARER_JWKS_URL": "https://idp.example/jwks",
        "OAUTHBEARER_TLS_CERT_FILE": str(cert),
        "OAUTHBEARER_TLS_KEY_FILE": str(key),
        "OAUTHBEARER_TLS_CLIENT_CA_FILE": str(ca_file),
    }
    assert SidecarSettings.from_env(env).callers is None  # no OAUTHBEARER_CALLERS needed


@pytest.mark.parametrize(
    ("case", "variable"),
    [
        ("cert without key", "OAUTHBEARER_TLS_KEY_FILE"),
        ("key without cert", "OAUTHBEARER_TLS_CERT_FILE"),
        ("missing cert file", "OAUTHBEARER_TLS_CERT_FILE"),
        ("garbage cert", "OAUTHBEARER_TLS_CERT_FILE"),
        ("key of another cert", "OAUTHBEARER_TLS_KEY_FILE"),
        ("client CA without cert", "OAUTHBEARER_TLS_CLIENT_CA_FILE"),
        ("garbage client CA", "OAUTHBEARER_TLS_CLIENT_CA_FILE"),
    ],
)
def test_bad_files_fail_at_start_up_naming_the_variable(
    ca: trustme.CA, tmp_path: Path, case: str, variable: str
) -> None:
    cert, key = write_pair(ca, tmp_path)
    _other_cert, other_key = write_pair(ca, tmp_path, "other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    env = {
        "cert without key": {"OAUTHBEARER_TLS_CERT_FILE": str(cert)},
        "key without cert": {"OAUTHBEARER_TLS_KEY_FILE": str(key)},
        "missing cert file": {
            "OAUTHBEARER_TLS_CERT_FILE": str(tmp_path / "nope.crt"),
            "OAUTHBEARER_TLS_KEY_FILE": str(key),
        },
        "garbage cert": {
            "OAUTHBEARER_TLS_CERT_FILE": str(garbage),
            "OAUTHBEARER_TLS_KEY_FILE": str(key),
        },
        "key of another cert": {
            "OAUTHBEARER_TLS_CERT_FILE": str(cert),
            "OAUTHBEARER_TLS_KEY_FILE": str(other_key),
        },
        "client CA without cert": {"OAUTHBEARER_TLS_CLIENT_CA_FILE": str(cert)},
        "garbage client CA": {
            "OAUTHBEARER_TLS_CERT_FILE": str(cert),
            "OAUTHBEARER_TLS_KEY_FILE": str(key),
            "OAUTHBEARER_TLS_CLIENT_CA_FILE": str(garbage),
        },
    }[case]
    with pytest.raises(ConfigurationError) as info:
        SidecarSettings.from_env({**BASE, **env})
    assert info.value.variable == variable
    assert "PRIVATE KEY" not in str(info.value)


def test_the_reloader_loads_changed_files_and_keeps_the_old_pair_on_a_bad_one(
    ca: trustme.CA, tmp_path: Path
) -> None:
    cert, key = write_pair(ca, tmp_path)
    reloader = CertificateReloader(server_context(str(cert), str(key), None), str(cert), str(key))
    assert reloader.check() is False  # nothing changed
    cert.write_text("half-written")  # a renewal caught in the middle
    assert reloader.check() is False
    assert reloader.reloads == 0
    write_pair(ca, tmp_path)  # the renewal completes
    assert reloader.check() is True
    assert reloader.reloads == 1


def test_client_identity_is_the_subject_or_none() -> None:
    assert client_identity(None) is None
    assert client_identity({}) is None
    assert client_identity({"subject": ((("commonName", "broker-1"),),)}) == "CN=broker-1"


def test_a_subject_cannot_pass_for_another_by_the_characters_in_its_values() -> None:
    # Same CA, one field holding the broker's whole subject: unescaped, it was the broker.
    broker = {
        "subject": (
            (("organizationName", "kafka"),),
            (("organizationalUnitName", "brokers"),),
            (("commonName", "strimzi-broker"),),
        )
    }
    forged = {"subject": ((("commonName", "strimzi-broker,OU=brokers,O=kafka"),),)}
    assert client_identity(broker) == "CN=strimzi-broker,OU=brokers,O=kafka"
    assert client_identity(forged) == "CN=strimzi-broker\\,OU\\=brokers\\,O\\=kafka"
    # A multi-valued RDN is joined by "+", which a value's own "+" cannot imitate.
    two = {"subject": ((("commonName", "a"), ("organizationName", "b")),)}
    plus = {"subject": ((("commonName", "a+O=b"),),)}
    assert client_identity(two) == "CN=a+O=b"
    assert client_identity(plus) != client_identity(two)
