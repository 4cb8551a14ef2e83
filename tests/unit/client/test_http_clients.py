"""ReloadingClient's bookkeeping: when a new client is built, when an old one is closed.

The clients are built through the ``build`` seam, so each one can be inspected; the TLS
files are real (trustme), read and loaded as in production. Nothing waits for time.
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

import httpx
import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from oauthbearer.client.http_clients import ReloadingClient
from oauthbearer.client.tls_files import TlsFiles
from oauthbearer.errors import ConfigurationError


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


class Built:
    """The build seam: every client made, with the context it was given."""

    def __init__(self) -> None:
        self.clients: list[httpx.Client] = []
        self.contexts: list[ssl.SSLContext | None] = []

    def __call__(self, context: ssl.SSLContext | None) -> httpx.Client:
        self.contexts.append(context)
        self.clients.append(httpx.Client(transport=httpx.MockTransport(_ok)))
        return self.clients[-1]


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "ca.crt"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def built() -> Built:
    return Built()


def test_unchanged_or_merely_touched_files_keep_the_client(ca_file: Path, built: Built) -> None:
    clients = ReloadingClient(TlsFiles(ca_file=str(ca_file)), timeout=5.0, build=built)
    clients.check()
    assert clients.reload() is False
    stat = ca_file.stat()
    os.utime(ca_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    clients.check()  # the stamp moved, the bytes did not: the connections stay
    assert len(built.clients) == 1
    context = built.contexts[0]
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    clients.close()
    assert built.clients[0].is_closed


def test_a_replaced_client_closes_when_its_last_request_is_over(
    ca_file: Path, built: Built
) -> None:
    clients = ReloadingClient(TlsFiles(ca_file=str(ca_file)), timeout=5.0, build=built)
    first, second = clients.lease(), clients.lease()
    trustme.CA().cert_pem.write_to_path(str(ca_file))  # the CA bundle rotated
    clients.check()
    assert len(built.clients) == 2
    assert clients.lease().client is built.clients[1]  # new requests use the new one
    first.release()
    assert not built.clients[0].is_closed  # `second` is still in flight on it
    second.release()
    assert built.clients[0].is_closed
    assert not built.clients[1].is_closed


def test_close_waits_for_requests_in_flight_and_stops_reloading(
    ca_file: Path, built: Built
) -> None:
    clients = ReloadingClient(TlsFiles(ca_file=str(ca_file)), timeout=5.0, build=built)
    lease = clients.lease()
    clients.close()
    assert not built.clients[0].is_closed
    lease.release()
    assert built.clients[0].is_closed
    trustme.CA().cert_pem.write_to_path(str(ca_file))
    clients.check()
    assert clients.reload() is False
    assert len(built.clients) == 1


def test_an_unusable_change_is_logged_once_and_forgotten_when_fixed(
    ca_file: Path, built: Built, caplog: pytest.LogCaptureFixture
) -> None:
    clients = ReloadingClient(TlsFiles(ca_file=str(ca_file)), timeout=5.0, build=built)
    good = ca_file.read_bytes()
    ca_file.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with caplog.at_level(logging.ERROR, logger="oauthbearer.client"):
        clients.check()
        assert clients.reload() is False  # the same problem again: not logged twice
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "OAUTHBEARER_LOGIN_CA_FILE: cannot load CA bundle" in logged
    assert clients.problem is not None
    assert clients.problem.variable == "OAUTHBEARER_LOGIN_CA_FILE"
    assert len(built.clients) == 1
    ca_file.write_bytes(good)
    assert clients.reload() is False  # the bytes in use: no new client, no problem
    assert clients.problem is None


def test_without_tls_files_there_is_nothing_to_reload(built: Built) -> None:
    clients = ReloadingClient(TlsFiles(), timeout=5.0, build=built)
    clients.check()
    assert clients.reload() is False
    assert built.contexts == [None]  # httpx's own verification, still on
    clients.close()


def test_a_first_load_that_fails_names_the_variable(tmp_path: Path, built: Built) -> None:
    leaf = trustme.CA().issue_cert("client@example.com")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    private = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    encrypted = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    key.write_bytes(encrypted)  # loading must fail, never prompt on a terminal
    files = TlsFiles(cert_file=str(cert), key_file=str(key))
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_KEY_FILE: .*encrypted"):
        ReloadingClient(files, timeout=5.0, build=built)
    key.write_bytes(b"")
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_KEY_FILE: .* is empty"):
        ReloadingClient(files, timeout=5.0, build=built)
    assert built.clients == []
