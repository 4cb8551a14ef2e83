"""tls_client_auth and the CA bundle option, against a real loopback TLS server.

A throwaway CA signs the server's and the client's certificates; the server requires a
client certificate (RFC 8705 §2). TLS verification stays on throughout: the private CA is
added through OAUTHBEARER_LOGIN_CA_FILE, never by switching verification off.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from oauthbearer.cli import unknown_variables
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import ConfigurationError, TokenRequestError
from tests.support.mtls_idp import MtlsIdp

from .conftest import FakeClock


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    subject: str, issuer_key: ec.EllipticCurvePrivateKey | None, issuer: str, *, ca: bool, ip: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ip:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    if ca:
        usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip
        builder = builder.add_extension(usage, critical=True)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _write(path: Path, key: ec.EllipticCurvePrivateKey | None, cert: x509.Certificate) -> Path:
    data = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return path


class Pki:
    def __init__(self, root: Path) -> None:
        ca_key, ca_cert = _issue("test-ca", None, "test-ca", ca=True, ip=False)
        server_key, server_cert = _issue("127.0.0.1", ca_key, "test-ca", ca=False, ip=True)
        client_key, client_cert = _issue("kafka-client", ca_key, "test-ca", ca=False, ip=False)
        self.ca = _write(root / "ca.pem", None, ca_cert)
        self.server = _write(root / "server.pem", server_key, server_cert)
        self.client_cert = _write(root / "client.crt", None, client_cert)
        self.client_key = root / "client.key"
        self.client_key.write_bytes(
            client_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path)


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[MtlsIdp]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(pki.server))
    with MtlsIdp(context) as server:
        yield server


def test_tls_client_auth_presents_the_certificate_and_sends_client_id(
    pki: Pki, mtls_server: MtlsIdp, clock: FakeClock
) -> None:
    settings = ClientSettings.from_env(
        {
            "OAUTHBEARER_LOGIN_TOKEN_URL": mtls_server.url,
            "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka-client",
            "OAUTHBEARER_LOGIN_CERT_FILE": str(pki.client_cert),
            "OAUTHBEARER_LOGIN_KEY_FILE": str(pki.client_key),
            "OAUTHBEARER_LOGIN_CA_FILE": str(pki.ca),
        }
    )
    assert settings.auth_method == "tls_client_auth"
    fetcher = TokenFetcher(settings, clock=clock)
    try:
        token = fetcher.fetch()
    finally:
        fetcher.close()
    assert token.access_token == "token-for-kafka-client"
    assert mtls_server.seen == [
        ("kafka-client", {"grant_type": "client_credentials", "client_id": "kafka-client"})
    ]


def assert_untrusted(settings: ClientSettings, clock: FakeClock, server: MtlsIdp) -> None:
    """The fetch fails on the server's certificate, before a request is sent."""
    fetcher = TokenFetcher(settings, clock=clock)
    try:
        with pytest.raises(TokenRequestError, match="CERTIFICATE_VERIFY_FAILED"):
            fetcher.fetch()
    finally:
        fetcher.close()
    assert server.seen == []


def test_without_the_ca_bundle_the_private_ca_is_not_trusted(
    pki: Pki, mtls_server: MtlsIdp, clock: FakeClock
) -> None:
    settings = ClientSettings(
        token_url=mtls_server.url,
        client_id="kafka-client",
        cert_file=str(pki.client_cert),
        key_file=str(pki.client_key),
    )
    assert_untrusted(settings, clock, mtls_server)


def test_unloadable_client_certificate_names_the_variable(pki: Pki, clock: FakeClock) -> None:
    settings = ClientSettings(
        token_url="https://127.0.0.1:1/token",
        client_id="kafka-client",
        cert_file=str(pki.ca),  # a certificate without its key
    )
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_CERT_FILE: cannot load"):
        TokenFetcher(settings, clock=clock)


def test_jairsjunior_trust_all_is_reported_and_changes_nothing(
    pki: Pki, mtls_server: MtlsIdp, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {
        "OAUTHBEARER_LOGIN_TOKEN_URL": mtls_server.url,
        "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka-client",
        "OAUTHBEARER_LOGIN_CERT_FILE": str(pki.client_cert),
        "OAUTHBEARER_LOGIN_KEY_FILE": str(pki.client_key),
        # The original's trust-all for the whole JVM: read only to say it is ignored.
        "OAUTH_ACCEPT_UNSECURE_SERVER": "true",
    }
    with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
        settings = ClientSettings.from_env(environ)
    (logged,) = [r.getMessage() for r in caplog.records]
    assert logged.startswith("OAUTH_ACCEPT_UNSECURE_SERVER=true is ignored")
    assert "OAUTHBEARER_LOGIN_CA_FILE" in logged
    assert unknown_variables(environ, ["client"]) == [logged]  # what token and check print
    assert_untrusted(settings, clock, mtls_server)
    assert unknown_variables({**environ, "OAUTH_ACCEPT_UNSECURE_SERVER": "false"}, ["client"]) == []
