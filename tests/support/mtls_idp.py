"""A token endpoint on loopback that requires a client certificate (test infrastructure).

It answers every POST with a token named after the certificate's subject
(``token-for-<CN>``) and records what it saw, so a test can tell which certificate a
client presented. TLS is terminated per connection with :attr:`MtlsIdp.context`, which a
test may replace to change which client certificates the server accepts from the next
handshake on (a CA rotation on the server's side). Each answer closes its connection
(HTTP/1.0), so every request is a fresh handshake with whatever the client holds then.

Example (a test's view)::

    with MtlsIdp(server_context(ca, leaf)) as idp:
        ...  # fetch from idp.url
        assert idp.seen[0][0] == "kafka-client"
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import trustme

__all__ = ["PATIENCE", "MtlsIdp", "SecretVolume", "leaf_files", "server_context"]

#: How long a held request or a test waits for the other side before giving up: a bound
#: on a hang, never a pause (events end every wait long before it).
PATIENCE = 10.0


def server_context(ca: trustme.CA, leaf: trustme.LeafCert) -> ssl.SSLContext:
    """A server context presenting ``leaf`` and requiring client certificates ``ca`` issued."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, idp: MtlsIdp) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.idp = idp

    def get_request(self) -> tuple[socket.socket, Any]:
        raw, address = self.socket.accept()
        # The handshake happens here, with the context of this moment; a refused
        # certificate raises SSLError (an OSError), which socketserver drops.
        return self.idp.context.wrap_socket(raw, server_side=True), address


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        idp = self.server.idp
        length = int(self.headers["Content-Length"])
        form = dict(parse_qsl(self.rfile.read(length).decode()))
        assert isinstance(self.connection, ssl.SSLSocket)
        peer = self.connection.getpeercert()
        # The server requires a certificate: there is a subject, RDNs of (name, value).
        subject = {rdn[0][0]: rdn[0][1] for rdn in peer["subject"]} if peer else {}
        name = str(subject.get("commonName"))
        with idp.lock:
            idp.seen.append((name, form))
        if name in idp.hold:
            idp.arrived.set()
            idp.release.wait(PATIENCE)
        if name in idp.refuse:
            self._answer(401, {"error": "invalid_client"})
        else:
            self._answer(200, {"access_token": f"token-for-{name}", "expires_in": 300})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - base class name
        """Keep test output quiet."""


class MtlsIdp:
    """The server; ``seen`` lists (client certificate CN, form) per request.

    ``refuse``: CNs answered ``401 invalid_client``. ``hold``: CNs whose request waits for
    ``release`` (``arrived`` is set when one does), to keep a request in flight.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.lock = threading.Lock()
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.refuse: set[str] = set()
        self.hold: set[str] = set()
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="mtls-idp", daemon=True
        )
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/token"

    def names(self) -> list[str]:
        """The CN of each request so far, in order."""
        with self.lock:
            return [name for name, _ in self.seen]

    def __enter__(self) -> MtlsIdp:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release.set()  # a held request must not outlive the test
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(PATIENCE)


class SecretVolume:
    """A directory laid out as the kubelet's AtomicWriter lays out a mounted Secret.

    ``tls.crt -> ..data/tls.crt``, ``..data -> ..<version>``: :meth:`publish` writes a new
    version directory, swaps ``..data`` to it with one ``rename`` and removes the old one,
    so the visible paths never change and never show a half-written file.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._version = 0

    def path(self, name: str) -> Path:
        return self.root / name

    def publish(self, files: dict[str, bytes]) -> None:
        self._version += 1
        version = f"..v{self._version}"
        (self.root / version).mkdir(parents=True)
        for name, data in files.items():
            (self.root / version / name).write_bytes(data)
        data_link = self.root / "..data"
        old = data_link.readlink() if data_link.is_symlink() else None
        staged = self.root / "..data_tmp"
        staged.symlink_to(version)
        staged.rename(data_link)  # atomic: readers see the old set or the new one
        for name in files:
            visible = self.root / name
            if not visible.is_symlink():
                visible.symlink_to(Path("..data") / name)
        if old is not None:
            for stale in (self.root / old).iterdir():
                stale.unlink()
            (self.root / old).rmdir()


def leaf_files(leaf: trustme.LeafCert) -> dict[str, bytes]:
    """``tls.crt`` (the chain) and ``tls.key`` of ``leaf``, as cert-manager names them."""
    return {
        "tls.crt": b"".join(blob.bytes() for blob in leaf.cert_chain_pems),
        "tls.key": leaf.private_key_pem.bytes(),
    }
