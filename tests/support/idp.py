"""A real authorization server for tests: npm ``oidc-provider`` on an ephemeral loopback port.

Test infrastructure. ``tests/idp/server.mjs`` is the server; this module starts it with a
client list, waits (bounded) for its ``READY`` line, and stops exactly the process it
started. Restarting on the same port generates a new signing key: that is how key rotation
is tested.

Clients registered (all fake credentials):

=============  ======================  =============================================
name           auth method             notes
=============  ======================  =============================================
basic          client_secret_basic     secret needs RFC 6749 §2.3.1 form-encoding; JWT tokens
post           client_secret_post      JWT tokens
pkjwt          private_key_jwt         key pair generated per test session; JWT tokens
secretjwt      client_secret_jwt       JWT tokens
opaque         client_secret_basic     its default resource issues opaque tokens
introspector   client_secret_basic     may introspect everyone's tokens (the sidecar's client)
=============  ======================  =============================================

Fixtures: ``idp`` (one server per session) and ``idp_factory`` (servers a test may stop,
restart with a new key, or start with a short token lifetime).
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from tests.support.processes import terminate

__all__ = ["Idp", "IdpClient", "IdpFactory", "IdpStartError", "basic_authorization"]

IDP_DIR = Path(__file__).resolve().parent.parent / "idp"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
JWT_RESOURCE = "urn:kafka:jwt"
OPAQUE_RESOURCE = "urn:kafka:opaque"
SCOPE = "kafka"


class IdpStartError(RuntimeError):
    """The server could not be started. A test that needs it errors; it never skips."""


@dataclass(frozen=True)
class IdpClient:
    """One registered client. ``private_key_pem`` is set for private_key_jwt only."""

    name: str
    client_id: str
    client_secret: str | None
    auth_method: str
    default_resource: str = JWT_RESOURCE
    private_key_pem: str | None = field(default=None, repr=False)

    def metadata(self, public_jwk: dict[str, Any] | None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "client_id": self.client_id,
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "token_endpoint_auth_method": self.auth_method,
            "scope": SCOPE,
            "default_resource": self.default_resource,
        }
        if self.client_secret is not None:
            meta["client_secret"] = self.client_secret
        if self.auth_method == "private_key_jwt":
            assert public_jwk is not None
            meta["jwks"] = {"keys": [public_jwk]}
        return meta


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 §2.3.1: form-encode id and secret, then Basic-encode ``id:secret``."""
    raw = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def _make_clients() -> dict[str, IdpClient]:
    key = RSAKey.generate_key(2048, parameters={"kid": "pkjwt-test-key", "alg": "RS256"})
    pem = key.as_pem(private=True).decode()
    clients = [
        # '+', '/', ':' and ' ' only survive if the client form-encodes them first.
        IdpClient("basic", "kafka-basic", "fake+basic/secret: one=1", "client_secret_basic"),
        IdpClient("post", "kafka-post", "fake-post-secret", "client_secret_post"),
        IdpClient("pkjwt", "kafka-pkjwt", None, "private_key_jwt", private_key_pem=pem),
        IdpClient(
            "secretjwt",
            "kafka-secretjwt",
            "fake-secret-jwt-secret-that-is-long-enough-for-hs256",
            "client_secret_jwt",
        ),
        IdpClient(
            "opaque",
            "kafka-opaque",
            "fake-opaque-secret",
            "client_secret_basic",
            default_resource=OPAQUE_RESOURCE,
        ),
        IdpClient(
            "introspector", "introspector", "fake-introspector-secret", "client_secret_basic"
        ),
    ]
    return {c.name: c for c in clients}


def _public_jwk(pem: str) -> dict[str, Any]:
    key = RSAKey.import_key(pem, parameters={"kid": "pkjwt-test-key", "alg": "RS256"})
    return dict(key.as_dict(private=False))


class Idp:
    """One running oidc-provider process; restartable on the same port with a new key."""

    def __init__(
        self, clients: dict[str, IdpClient], *, access_token_ttl: int, log_dir: Path
    ) -> None:
        self.clients = clients
        self.access_token_ttl = access_token_ttl
        self._log_dir = log_dir
        self._port = 0
        self._proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self.issuer = ""
        self.kid = ""
        self.starts = 0

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> Idp:
        """Start the process and wait (bounded) until it listens."""
        node = shutil.which("node")
        if node is None or not (IDP_DIR / "node_modules" / "oidc-provider").is_dir():
            raise IdpStartError("authorization server not installed: run scripts/bootstrap")
        pkjwt = self.clients.get("pkjwt")
        public = _public_jwk(pkjwt.private_key_pem) if pkjwt and pkjwt.private_key_pem else None
        config = {
            "port": self._port,
            "accessTokenTTL": self.access_token_ttl,
            "clients": [c.metadata(public) for c in self.clients.values()],
        }
        env = {**os.environ, "IDP_CONFIG": json.dumps(config), "NODE_NO_WARNINGS": "1"}
        self.starts += 1
        self._log = open(self._log_dir / f"idp-{self.starts}.log", "w")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [node, str(IDP_DIR / "server.mjs")],
            cwd=IDP_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        ready = _read_ready_line(self._proc, START_TIMEOUT_S)
        self.issuer = ready["issuer"]
        self.kid = ready["kid"]
        self._port = int(urlsplit(self.issuer).port or 0)
        return self

    def stop(self) -> None:
        """Stop the process this object started (and only that one)."""
        proc, self._proc = self._proc, None
        terminate(proc, STOP_TIMEOUT_S, STOP_TIMEOUT_S)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        """Stop and start again on the same port: a new signing key, all tokens forgotten."""
        self.stop()
        self.start()

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not running"
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- addresses -------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self._port}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token"

    @property
    def introspection_url(self) -> str:
        return f"{self.issuer}/token/introspection"

    @property
    def revocation_url(self) -> str:
        return f"{self.issuer}/token/revocation"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    # --- conveniences for tests ------------------------------------------------------
    def authorization(self, name: str) -> str:
        client = self.clients[name]
        assert client.client_secret is not None, f"{name} has no client secret"
        return basic_authorization(client.client_id, client.client_secret)

    def env_for(self, name: str) -> dict[str, str]:
        """jairsjunior's OAUTH_LOGIN_* block for a client_secret_basic client."""
        return {
            "OAUTH_LOGIN_SERVER": self.host_port,
            "OAUTH_LOGIN_ENDPOINT": "/token",
            "OAUTH_LOGIN_GRANT_TYPE": "client_credentials",
            "OAUTH_LOGIN_SCOPE": SCOPE,
            "OAUTH_AUTHORIZATION": self.authorization(name),
            "OAUTH_WITH_SSL": "false",
        }

    def introspect_env(self) -> dict[str, str]:
        """jairsjunior's OAUTH_INTROSPECT_* block: this server as the sidecar's upstream."""
        return {
            "OAUTH_INTROSPECT_SERVER": self.host_port,
            "OAUTH_INTROSPECT_ENDPOINT": "/token/introspection",
            "OAUTH_INTROSPECT_AUTHORIZATION": self.authorization("introspector"),
            "OAUTH_WITH_SSL": "false",
        }

    def fetch_token(self, name: str = "basic") -> dict[str, Any]:
        """A client_credentials token for any registered client, fetched directly.

        The JWT client assertions (private_key_jwt, client_secret_jwt) are signed here by
        hand (RFC 7523 §3), independently of the package's client half.
        """
        client = self.clients[name]
        form = {"grant_type": "client_credentials", "scope": SCOPE}
        headers = {}
        if client.auth_method == "client_secret_post":
            form |= {"client_id": client.client_id, "client_secret": client.client_secret or ""}
        elif client.auth_method in ("private_key_jwt", "client_secret_jwt"):
            form |= {
                "client_id": client.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.client_assertion(client),
            }
        else:
            headers["Authorization"] = self.authorization(name)
        response = httpx.post(self.token_url, data=form, headers=headers, timeout=10)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def client_assertion(self, client: IdpClient) -> str:
        """A fresh RFC 7523 client assertion for ``client`` (new jti each time)."""
        now = int(time.time())
        claims = {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": self.token_url,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + 60,
        }
        if client.private_key_pem is not None:
            rsa = RSAKey.import_key(client.private_key_pem)
            return jwt.encode({"alg": "RS256", "kid": "pkjwt-test-key"}, claims, rsa)
        assert client.client_secret is not None
        oct_key = OctKey.import_key(client.client_secret.encode())
        return jwt.encode({"alg": "HS256"}, claims, oct_key)

    def introspect(self, token: str) -> dict[str, Any]:
        response = httpx.post(
            self.introspection_url,
            data={"token": token},
            headers={"Authorization": self.authorization("introspector")},
            timeout=10,
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def revoke(self, token: str, name: str = "opaque") -> None:
        response = httpx.post(
            self.revocation_url,
            data={"token": token},
            headers={"Authorization": self.authorization(name)},
            timeout=10,
        )
        response.raise_for_status()


def _read_ready_line(proc: subprocess.Popen[str], timeout: float) -> dict[str, str]:
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    stdout = proc.stdout

    def pump() -> None:
        for line in stdout:
            lines.put(line)
            if line.startswith("READY "):
                return
        lines.put(None)

    threading.Thread(target=pump, name="idp-ready", daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=timeout)
            if line is None:
                raise IdpStartError(f"authorization server exited early (status {proc.wait()})")
            if line.startswith("READY "):
                ready: dict[str, str] = json.loads(line.removeprefix("READY "))
                return ready
    except queue.Empty:
        proc.kill()
        proc.wait()
        raise IdpStartError(f"authorization server not ready within {timeout} s") from None


class IdpFactory:
    """Starts servers for one test and stops all of them afterwards."""

    def __init__(self, clients: dict[str, IdpClient], log_dir: Path) -> None:
        self._clients = clients
        self._log_dir = log_dir
        self._started: list[Idp] = []

    def __call__(self, *, access_token_ttl: int = 300) -> Idp:
        idp = Idp(self._clients, access_token_ttl=access_token_ttl, log_dir=self._log_dir)
        self._started.append(idp)
        return idp.start()

    def stop_all(self) -> None:
        for idp in self._started:
            idp.stop()


@pytest.fixture(scope="session")
def idp_clients() -> dict[str, IdpClient]:
    return _make_clients()


@pytest.fixture(scope="session")
def idp(
    idp_clients: dict[str, IdpClient], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Idp]:
    """One authorization server for the whole session (token lifetime 300 s)."""
    server = Idp(idp_clients, access_token_ttl=300, log_dir=tmp_path_factory.mktemp("idp"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def idp_factory(idp_clients: dict[str, IdpClient], tmp_path: Path) -> Iterator[IdpFactory]:
    """Private servers for tests that stop, restart or reconfigure them."""
    factory = IdpFactory(idp_clients, tmp_path)
    try:
        yield factory
    finally:
        factory.stop_all()
