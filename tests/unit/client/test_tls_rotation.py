"""tls_client_auth files that change under a running client, against a real mTLS server.

cert-manager renews a certificate into its Secret and the kubelet publishes it by
swapping a symlink (:class:`~tests.support.mtls_idp.SecretVolume`); the client must
present the new certificate from its next fetch on, without a restart, and must keep the
old one when the new files cannot be used. The server tells which certificate it saw
(``token-for-<CN>``). Nothing here waits for time to pass: events end every wait.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.token import Token
from oauthbearer.errors import TokenRequestError
from tests.support.mtls_idp import PATIENCE, MtlsIdp, SecretVolume, leaf_files, server_context

from .conftest import FakeClock

OLD, NEW = "client-old", "client-new"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1")


def client_leaf(ca: trustme.CA, name: str) -> trustme.LeafCert:
    return ca.issue_cert(f"{name}@example.com", common_name=name)


@pytest.fixture
def idp(ca: trustme.CA, server_leaf: trustme.LeafCert) -> Iterator[MtlsIdp]:
    with MtlsIdp(server_context(ca, server_leaf)) as server:
        yield server


@pytest.fixture
def volume(tmp_path: Path, ca: trustme.CA) -> SecretVolume:
    """The mounted Secret, first holding the old certificate (and ca.crt, as cert-manager)."""
    secret = SecretVolume(tmp_path / "secret")
    secret.publish({**leaf_files(client_leaf(ca, OLD)), "ca.crt": ca.cert_pem.bytes()})
    return secret


def settings_for(url: str, cert: Path, key: Path, ca_file: Path) -> ClientSettings:
    return ClientSettings(
        token_url=url,
        client_id="kafka-client",
        cert_file=str(cert),
        key_file=str(key),
        ca_file=str(ca_file),
    )


@pytest.fixture
def fetcher(idp: MtlsIdp, volume: SecretVolume, clock: FakeClock) -> Iterator[TokenFetcher]:
    settings = settings_for(
        idp.url, volume.path("tls.crt"), volume.path("tls.key"), volume.path("ca.crt")
    )
    made = TokenFetcher(settings, clock=clock)
    yield made
    made.close()


def renew(volume: SecretVolume, ca: trustme.CA, name: str = NEW) -> None:
    volume.publish({**leaf_files(client_leaf(ca, name)), "ca.crt": ca.cert_pem.bytes()})


def test_a_renewed_certificate_is_presented_from_the_next_fetch(
    fetcher: TokenFetcher, idp: MtlsIdp, volume: SecretVolume, ca: trustme.CA
) -> None:
    assert fetcher.fetch().access_token == f"token-for-{OLD}"
    renew(volume, ca)
    assert fetcher.fetch().access_token == f"token-for-{NEW}"
    assert idp.names() == [OLD, NEW]
    assert fetcher.fetch().access_token == f"token-for-{NEW}"  # and it stays


def test_a_request_in_flight_on_the_old_certificate_completes(
    fetcher: TokenFetcher, idp: MtlsIdp, volume: SecretVolume, ca: trustme.CA
) -> None:
    idp.hold.add(OLD)
    outcome: list[Token | BaseException] = []

    def first() -> None:
        try:
            outcome.append(fetcher.fetch())
        except BaseException as exc:  # noqa: BLE001 - the assertion below shows it
            outcome.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    assert idp.arrived.wait(PATIENCE)  # the old client's request is at the server
    renew(volume, ca)
    # A second fetch meanwhile builds the new client; the old one must stay open.
    assert fetcher.fetch().access_token == f"token-for-{NEW}"
    idp.release.set()
    worker.join(PATIENCE)
    assert [getattr(o, "access_token", o) for o in outcome] == [f"token-for-{OLD}"]
    assert sorted(idp.names()) == sorted([OLD, NEW])


def _broken_key(ca: trustme.CA) -> dict[str, bytes]:
    files = leaf_files(client_leaf(ca, NEW))
    files["tls.key"] = leaf_files(client_leaf(ca, "someone-else"))["tls.key"]
    return files


def _no_key(ca: trustme.CA) -> dict[str, bytes]:
    files = leaf_files(client_leaf(ca, NEW))
    del files["tls.key"]  # the new version lacks it: the visible link dangles
    return files


def _not_a_certificate(ca: trustme.CA) -> dict[str, bytes]:
    files = leaf_files(client_leaf(ca, NEW))
    files["tls.crt"] = b"this is not PEM\n"
    return files


@pytest.mark.parametrize(
    ("make_files", "variable"),
    [
        (_broken_key, "OAUTHBEARER_LOGIN_KEY_FILE"),
        (_no_key, "OAUTHBEARER_LOGIN_KEY_FILE"),
        (_not_a_certificate, "OAUTHBEARER_LOGIN_CERT_FILE"),
    ],
    ids=["key-of-another-certificate", "key-missing", "not-a-certificate"],
)
def test_unusable_new_files_keep_the_old_certificate_and_name_the_variable(
    fetcher: TokenFetcher,
    idp: MtlsIdp,
    volume: SecretVolume,
    ca: trustme.CA,
    server_leaf: trustme.LeafCert,
    caplog: pytest.LogCaptureFixture,
    make_files: Callable[[trustme.CA], dict[str, bytes]],
    variable: str,
) -> None:
    fetcher.fetch()
    files = make_files(ca)
    volume.publish({**files, "ca.crt": ca.cert_pem.bytes()})
    with caplog.at_level(logging.INFO, logger="oauthbearer.client"):
        assert fetcher.fetch().access_token == f"token-for-{OLD}"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert variable in errors[0]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "PRIVATE KEY" not in logged
    assert not any(line in logged for line in files.get("tls.key", b"").decode().splitlines()[1:-1])

    # The old certificate stops being accepted (it expired): the failure says why the
    # renewal did not take over, naming the variable.
    idp.context = server_context(trustme.CA(), server_leaf)
    with pytest.raises(TokenRequestError, match=variable):
        fetcher.fetch()

    # The next renewal is usable: it takes over.
    idp.context = server_context(ca, server_leaf)
    renew(volume, ca)
    assert fetcher.fetch().access_token == f"token-for-{NEW}"


def _padded(data: bytes, size: int = 4096) -> bytes:
    """PEM ignores trailing blank lines: equal sizes for two certificates or two keys."""
    assert len(data) <= size
    return data + b"\n" * (size - len(data))


def _rewrite_unnoticed(path: Path, data: bytes) -> None:
    """Rewrite a file in place keeping its inode, size and mtime: a change ``stat`` misses
    (an in-place writer within one timestamp tick)."""
    before = path.stat()
    with path.open("r+b") as handle:
        handle.write(data)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    same = (after.st_dev, after.st_ino, after.st_size, after.st_mtime_ns)
    assert same == (before.st_dev, before.st_ino, before.st_size, before.st_mtime_ns)


@pytest.mark.parametrize("refusal", ["handshake", "invalid_client"])
def test_a_refusal_rereads_files_the_change_check_missed(
    tmp_path: Path,
    idp: MtlsIdp,
    ca: trustme.CA,
    server_leaf: trustme.LeafCert,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    refusal: str,
) -> None:
    old = leaf_files(client_leaf(ca, OLD))
    cert, key, ca_file = tmp_path / "tls.crt", tmp_path / "tls.key", tmp_path / "ca.crt"
    cert.write_bytes(_padded(old["tls.crt"]))
    key.write_bytes(_padded(old["tls.key"]))
    ca.cert_pem.write_to_path(str(ca_file))
    made = TokenFetcher(settings_for(idp.url, cert, key, ca_file), clock=clock)
    try:
        assert made.fetch().access_token == f"token-for-{OLD}"
        if refusal == "handshake":
            # The server now trusts only the CA that issued the renewed certificate.
            renewed_ca = trustme.CA()
            new = leaf_files(client_leaf(renewed_ca, NEW))
            idp.context = server_context(renewed_ca, server_leaf)
        else:
            new = leaf_files(client_leaf(ca, NEW))
            idp.refuse.add(OLD)
        _rewrite_unnoticed(cert, _padded(new["tls.crt"]))
        _rewrite_unnoticed(key, _padded(new["tls.key"]))
        with caplog.at_level(logging.WARNING, logger="oauthbearer.client"):
            assert made.fetch().access_token == f"token-for-{NEW}"
    finally:
        made.close()
    assert idp.names()[-1] == NEW
    assert any("retrying once" in r.getMessage() for r in caplog.records)


def test_an_http_client_of_the_callers_own_is_never_replaced(
    volume: SecretVolume, ca: trustme.CA, clock: FakeClock
) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        return httpx.Response(200, json={"access_token": "t", "expires_in": 300})

    own = httpx.Client(transport=httpx.MockTransport(answer))
    settings = settings_for(
        "https://idp.example/token",
        volume.path("tls.crt"),
        volume.path("tls.key"),
        volume.path("ca.crt"),
    )
    made = TokenFetcher(settings, http_client=own, clock=clock)
    made.fetch()
    renew(volume, ca)
    made.fetch()
    made.close()
    assert seen == ["idp.example", "idp.example"]  # both through the caller's client
    assert not own.is_closed  # the caller's to close
    own.close()
