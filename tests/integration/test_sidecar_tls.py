"""``oauthbearer serve`` over HTTPS, with throwaway CAs (trustme) and the real IdP.

Both broker plugins' request shapes over TLS; plain HTTP refused; mTLS identifying callers
by their certificate's subject and refusing a certificate of an unknown CA, an expired
one, and none; a certificate renewed in place served to new connections while an
established keep-alive connection goes on undisturbed.
"""

from __future__ import annotations

import base64
import datetime
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from tests.support.https_sidecar import CALLER, Served, serve_https, write_pair
from tests.support.idp import Idp

pytestmark = pytest.mark.integration

RELOAD_BOUND_S = 20.0  # the reloader looks every 5 s


@pytest.fixture(scope="module")
def server_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def client_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https(idp: Idp, server_ca: trustme.CA, tmp_path: Path) -> Iterator[Served]:
    write_pair(server_ca.issue_cert("127.0.0.1"), tmp_path)
    yield from serve_https(idp, tmp_path)


@pytest.fixture
def mtls(
    idp: Idp, server_ca: trustme.CA, client_ca: trustme.CA, tmp_path: Path
) -> Iterator[Served]:
    write_pair(server_ca.issue_cert("127.0.0.1"), tmp_path)
    client_ca.cert_pem.write_to_path(str(tmp_path / "clients.pem"))
    yield from serve_https(
        idp, tmp_path, OAUTHBEARER_TLS_CLIENT_CA_FILE=str(tmp_path / "clients.pem")
    )


def _trust(ca: trustme.CA, client: trustme.LeafCert | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if client is not None:
        client.configure_cert(context)
    return context


def test_both_plugin_shapes_over_https_and_no_plain_http(
    idp: Idp, https: Served, server_ca: trustme.CA
) -> None:
    jwt = idp.fetch_token("basic")["access_token"]
    opaque = idp.fetch_token("opaque")["access_token"]
    with httpx.Client(base_url=https.url, verify=_trust(server_ca), timeout=10) as client:
        # Strimzi: URL-safe Basic with padding, a form-encoded body.
        strimzi_auth = "Basic " + base64.urlsafe_b64encode(":".join(CALLER).encode()).decode()
        strimzi = client.post(
            "/oauth2/introspect",
            data={"token": opaque},
            headers={"Authorization": strimzi_auth, "Accept": "application/json"},
        )
        assert strimzi.status_code == 200
        assert strimzi.json()["active"] is True
        # jairsjunior: standard Basic, the raw body, its bogus charset header.
        jairs_auth = "Basic " + base64.b64encode(":".join(CALLER).encode()).decode()
        jairs = client.post(
            "/oauth2/introspect/jairsjunior-ms",
            content=f"token={jwt}".encode(),
            headers={"Authorization": jairs_auth, "charset": "utf-8"},
        )
        assert jairs.status_code == 200
        assert jairs.json()["active"] is True
        assert jairs.json()["exp"] > 10**12  # milliseconds
    with pytest.raises(httpx.HTTPError):
        httpx.post(f"http://127.0.0.1:{https.port}/oauth2/introspect", data={"token": "x"})


def test_mtls_identifies_callers_by_certificate_and_refuses_the_rest(
    idp: Idp, mtls: Served, server_ca: trustme.CA, client_ca: trustme.CA
) -> None:
    token = idp.fetch_token("basic")["access_token"]
    broker = client_ca.issue_cert(
        "strimzi-broker.kafka",
        common_name="strimzi-broker",
        organization_name="kafka",
        organization_unit_name="brokers",
    )
    with httpx.Client(verify=_trust(server_ca, broker), timeout=10) as client:
        response = client.post(f"{mtls.url}/oauth2/introspect", data={"token": token})
    assert response.status_code == 200
    assert response.json()["active"] is True
    callers = {d["caller"] for d in mtls.decisions()}
    assert callers == {"cert:CN=strimzi-broker,OU=brokers,O=kafka"}

    stranger = trustme.CA().issue_cert("strimzi-broker.kafka", common_name="strimzi-broker")
    yesterday = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    expired = client_ca.issue_cert(
        "old-broker.kafka",
        common_name="old-broker",
        not_before=yesterday - datetime.timedelta(days=30),
        not_after=yesterday,
    )
    for refused in (stranger, expired, None):
        with (
            httpx.Client(verify=_trust(server_ca, refused), timeout=10) as client,
            pytest.raises(httpx.HTTPError),
        ):
            client.post(f"{mtls.url}/oauth2/introspect", data={"token": token})
    assert {d["caller"] for d in mtls.decisions()} == callers  # nobody else got in


def _keep_alive_request(sock: ssl.SSLSocket, token: str) -> int:
    body = f"token={token}".encode()
    auth = base64.b64encode(":".join(CALLER).encode()).decode()
    sock.sendall(
        b"POST /oauth2/introspect HTTP/1.1\r\nHost: sidecar\r\n"
        + f"Authorization: Basic {auth}\r\n".encode()
        + b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "connection closed"
        head += chunk
    header, _, rest = head.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in header.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        rest += sock.recv(4096)
    return int(header.split(b" ", 2)[1])


def _serial(sock: ssl.SSLSocket) -> int:
    der = sock.getpeercert(binary_form=True)
    assert der is not None
    from cryptography import x509

    return x509.load_der_x509_certificate(der).serial_number


def test_a_renewed_certificate_reaches_new_connections_and_spares_old_ones(
    idp: Idp, https: Served, server_ca: trustme.CA, tmp_path: Path
) -> None:
    token = idp.fetch_token("basic")["access_token"]
    trust = _trust(server_ca)

    def connect() -> ssl.SSLSocket:
        raw = socket.create_connection(("127.0.0.1", https.port), timeout=10)
        return trust.wrap_socket(raw, server_hostname="127.0.0.1")

    with connect() as established:
        assert _keep_alive_request(established, token) == 200
        old_serial = _serial(established)
        write_pair(server_ca.issue_cert("127.0.0.1"), tmp_path)  # cert-manager renews

        # A keep-alive run: the established connection keeps asking (within uvicorn's
        # keep-alive timeout) while new connections look for the renewed certificate.
        started = time.monotonic()
        answered = 0
        while True:
            assert _keep_alive_request(established, token) == 200
            answered += 1
            with connect() as fresh:
                if _serial(fresh) != old_serial:
                    assert _keep_alive_request(fresh, token) == 200
                    break
            assert time.monotonic() - started < RELOAD_BOUND_S, "renewal never served"
            time.sleep(0.2)  # polling for the reloader, not waiting for an expiry
        # The connection opened before the renewal is still up and still answered.
        assert _keep_alive_request(established, token) == 200
        assert _serial(established) == old_serial
        assert answered >= 2
    assert https.proc.poll() is None  # no restart


def test_probe_speaks_https_when_the_sidecar_does(https: Served) -> None:
    # The container's own environment: the probe follows OAUTHBEARER_TLS_CERT_FILE.
    env = {
        **os.environ,
        "OAUTHBEARER_LISTEN": f"0.0.0.0:{https.port}",
        "OAUTHBEARER_TLS_CERT_FILE": "/var/run/oauthbearer-tls/tls.crt",
    }
    for check in ("healthz", "readyz"):
        answer = subprocess.run(
            [sys.executable, "-m", "oauthbearer.cli", "probe", check],
            env=env,
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
        assert answer.returncode == 0, answer.stderr
    plain = subprocess.run(
        [sys.executable, "-m", "oauthbearer.cli", "probe"],
        env={**env, "OAUTHBEARER_TLS_CERT_FILE": ""},
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert plain.returncode == 1  # plain HTTP to an HTTPS listener is not an answer
