"""``oauthbearer serve`` over HTTPS as an operator runs it, for tests (test infrastructure).

The certificate and key are files in a directory, replaced whole as the kubelet renews a
Secret volume; ``serve_https`` yields a running process and stops exactly that one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import trustme

from tests.support.idp import JWT_RESOURCE, Idp
from tests.support.sidecar_process import SidecarProcess

__all__ = ["CALLER", "Served", "serve_https", "write_pair"]

#: The broker's credentials at the sidecar (fake; Strimzi's URL-safe Basic shows a '-').
CALLER = ("strimzi-broker", "fake>>secret??")


class Served:
    def __init__(self, sidecar: SidecarProcess) -> None:
        assert sidecar.process is not None
        self.port, self.proc, self.log = sidecar.port, sidecar.process, sidecar.log_path
        self.url = f"https://127.0.0.1:{sidecar.port}"

    def decisions(self) -> list[dict[str, object]]:
        lines = self.log.read_text(errors="replace").splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]
        return [r for r in records if r.get("message") == "decision"]


def write_pair(leaf: trustme.LeafCert, directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    # As the kubelet renews a Secret volume: each file replaced whole, never rewritten.
    for path, data in (
        (cert, b"".join(blob.bytes() for blob in leaf.cert_chain_pems)),
        (key, leaf.private_key_pem.bytes()),
    ):
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
    return cert, key


def serve_https(idp: Idp, directory: Path, **extra: str) -> Iterator[Served]:
    env = {
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_ISSUER": idp.issuer,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
        "OAUTHBEARER_CALLERS": ":".join(CALLER),
        "OAUTHBEARER_TLS_CERT_FILE": str(directory / "tls.crt"),
        "OAUTHBEARER_TLS_KEY_FILE": str(directory / "tls.key"),
        "OAUTHBEARER_DECISION_LOG_HITS": "each",
        **extra,
    }
    sidecar = SidecarProcess("sidecar", env, directory).start()
    try:
        sidecar.wait_listening()
        yield Served(sidecar)
    finally:
        sidecar.close()
