"""SASL/OAUTHBEARER front for the tansu broker: TEST INFRASTRUCTURE, not product code.

No broker that validates OAUTHBEARER installs on these machines (see
``/work/shared/TESTBED.md``), so this loopback proxy stands in for a Kafka broker's SASL
layer with a validator callback handler plugged in -- jairsjunior's
``OauthAuthenticateValidatorCallbackHandler`` or Strimzi's introspection validator. Per
connection it plays Kafka's ``SaslServerAuthenticator``:

- answers ApiVersions itself (the upstream broker's ranges plus SaslHandshake v0-1 and
  SaslAuthenticate v0-2; an unsupported version gets Kafka's v0 UNSUPPORTED_VERSION reply);
- SaslHandshake v0 (raw SASL frames follow) or v1 (SaslAuthenticate v0-v2 follow),
  OAUTHBEARER only;
- parses the RFC 7628 message as ``OAuthBearerClientInitialResponse`` does, POSTs the
  token to the introspection URL (our sidecar) byte-for-byte in the chosen peer's shape,
  applies that peer's checks on the JSON, and answers like a broker;
- then relays bytes to the upstream broker, answers KIP-368 re-authentication
  (a SaslHandshake mid-connection) itself, and closes the connection on the first request
  after the session lifetime (``exp`` - now) has passed, as Kafka's SocketServer does.

Failure replies (``failure_reply``): ``"kafka"`` (default) is Kafka's own
OAuthBearerSaslServer path: a challenge carrying ``{"status":"invalid_token"}``, the
client's ``\\x01``, then SASL_AUTHENTICATION_FAILED (58) with that JSON as message.
``"strimzi"`` is one 58 reply with Strimzi's message. ``"jairsjunior"`` closes without a
reply, as that handler's NullPointerException makes a real broker do.

Fixture (needs ``tests.support.tansu`` too): ``sasl_front_factory(introspection_url,
shape=..., ...) -> SaslFront``, each front with its own tansu advertising the front.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

import httpx
import pytest

from tests.support import kafka_wire as w
from tests.support.tansu import TansuFactory

__all__ = ["FrontEvent", "OffsetClock", "SaslFront", "SaslFrontFactory"]

Shape = Literal["jairsjunior", "strimzi"]
FailureReply = Literal["kafka", "strimzi", "jairsjunior"]
MECHANISM = "OAUTHBEARER"
INVALID_TOKEN = json.dumps({"status": "invalid_token"}, separators=(",", ":"))
MAX_AUTH_FRAME = 524288  # SaslServerAuthenticator.MAX_RECEIVE_SIZE
MAX_FRAME = 104857600  # socket.request.max.bytes default
JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"  # HttpURLConnection
JAVA_USER_AGENT = "Java/17.0.12"
INT32_MAX = 2**31 - 1


class _Closed(Exception):
    """End this connection (a broker closing it); the reason is already recorded."""


@dataclass(frozen=True)
class FrontEvent:
    kind: str  # connect, auth_attempt, introspection, auth_success, auth_failure, ...
    conn: int
    detail: dict[str, Any] = field(default_factory=dict)


class OffsetClock:
    """Wall clock plus an adjustable offset: ``advance(s)`` makes sessions expire now."""

    def __init__(self) -> None:
        self.offset = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class _Verdict:
    principal: str | None  # None: refused
    reason: str = ""
    credential_expiry_ms: int = 0


@dataclass
class _Conn:
    cid: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    principal: str | None = None
    expires_at_ms: int = 0

    async def read_frame(self, limit: int) -> bytes:
        size = int.from_bytes(await self.reader.readexactly(4), "big", signed=True)
        if not 0 <= size <= limit:
            raise _Closed(f"frame size {size} outside 0..{limit}")
        return await self.reader.readexactly(size)

    async def send(self, payload: bytes) -> None:
        self.writer.write(w.frame(payload))
        await self.writer.drain()


class SaslFront:
    """The front. ``start()`` binds 127.0.0.1 and serves on a loop in its own thread.

    ``upstream`` (host, port) may be set after ``start()``: the broker must advertise the
    front's port, so it is started once that port is known. ``authorization`` is the
    jairsjunior ``OAUTH_INTROSPECT_AUTHORIZATION`` header (sent verbatim, even empty);
    ``client_id``/``client_secret`` are Strimzi's ``oauth.client.id``/``secret``.
    ``transport`` replaces the network (e.g. ``httpx.ASGITransport(app)``); ``clock``
    (epoch seconds) decides session lifetimes. ``announce_session_lifetime=False`` sends 0
    while still enforcing expiry: a client that cannot re-authenticate is dropped instead.
    ``exp_as_ms=True`` reproduces KAFKA-13848 (jairsjunior's ``exp`` taken as ms).
    """

    def __init__(
        self,
        introspection_url: str,
        *,
        shape: Shape,
        upstream: tuple[str, int] | None = None,
        authorization: str = "",
        client_id: str | None = None,
        client_secret: str | None = None,
        principal_claim: str = "sub",
        valid_issuer: str | None = None,
        failure_reply: FailureReply = "kafka",
        announce_session_lifetime: bool = True,
        exp_as_ms: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.introspection_url = introspection_url
        self.shape = shape
        self.upstream = upstream
        self.authorization = authorization
        self.client_id, self.client_secret = client_id, client_secret
        self.principal_claim, self.valid_issuer = principal_claim, valid_issuer
        self.failure_reply = failure_reply
        self.announce_session_lifetime = announce_session_lifetime
        self.exp_as_ms = exp_as_ms
        self.clock = clock
        self._transport, self._timeout = transport, timeout
        self.events: list[FrontEvent] = []
        self._cond = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._http: httpx.AsyncClient | None = None
        self._versions: dict[int, tuple[int, int]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_cid = 0
        self.port = 0

    # --- life cycle (called from the test thread) ------------------------------------
    def start(self) -> SaslFront:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(10)
        return self

    async def _open(self) -> None:
        self._http = httpx.AsyncClient(transport=self._transport, timeout=self._timeout)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- events (thread-safe; read from tests) ---------------------------------------
    def _record(self, kind: str, conn: int, **detail: Any) -> None:
        with self._cond:
            self.events.append(FrontEvent(kind, conn, detail))
            self._cond.notify_all()

    def of(self, kind: str) -> list[FrontEvent]:
        with self._cond:
            return [e for e in self.events if e.kind == kind]

    def counts(self) -> Counter[str]:
        with self._cond:
            return Counter(e.kind for e in self.events)

    def wait_for(
        self,
        kind: str,
        *,
        count: int = 1,
        where: Callable[[FrontEvent], bool] | None = None,
        timeout: float = 10.0,
    ) -> list[FrontEvent]:
        """Block until ``count`` events of ``kind`` (matching ``where``) were recorded."""

        def matching() -> list[FrontEvent]:
            return [e for e in self.events if e.kind == kind and (where is None or where(e))]

        with self._cond:
            ok = self._cond.wait_for(lambda: len(matching()) >= count, timeout)
            assert ok, f"{count} x {kind!r} not seen within {timeout} s: {self.events}"
            return matching()

    # --- one client connection -------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._next_cid += 1
        conn = _Conn(self._next_cid, reader, writer)
        self._record("connect", conn.cid)
        reason = "client closed"
        try:
            await self._authenticate(conn, None)
            await self._relay(conn)
        except _Closed as exc:
            reason = str(exc)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # stop() cancels connections. Ending the task normally instead of cancelled
            # keeps asyncio's stream callback from logging a CancelledError it cannot use.
            reason = "front stopped"
        except w.WireError as exc:
            reason = f"malformed request: {exc}"
        except Exception as exc:  # noqa: BLE001 - a bug in the front must fail the test, loudly
            reason = f"front error: {exc!r}"
            self._record("front_error", conn.cid, error=repr(exc))
        finally:
            writer.close()
            self._record("disconnect", conn.cid, reason=reason)
            self._tasks.discard(task)

    async def _authenticate(self, conn: _Conn, handshake: bytes | None) -> None:
        """ApiVersions (first login only), SaslHandshake, then the OAUTHBEARER exchange."""
        reauth, versions_done = handshake is not None, False
        while True:
            payload = handshake or await conn.read_frame(MAX_AUTH_FRAME)
            header = w.parse_request_header(payload)
            if header.api_key == w.API_VERSIONS and not (reauth or versions_done):
                versions_done = await self._api_versions(conn, header)
                continue
            if header.api_key != w.SASL_HANDSHAKE or header.api_version > 1:
                raise _Closed(f"unexpected request {header.api_key} v{header.api_version}")
            mechanism = w.parse_sasl_handshake_request(payload, header)
            self._record("handshake", conn.cid, mechanism=mechanism, version=header.api_version)
            ok = mechanism == MECHANISM
            error = w.NONE if ok else w.UNSUPPORTED_SASL_MECHANISM
            await conn.send(
                w.encode_sasl_handshake_response(header.correlation_id, error, [MECHANISM])
            )
            if not ok:
                self._record("auth_failure", conn.cid, reason=f"mechanism {mechanism}")
                raise _Closed(f"unsupported SASL mechanism {mechanism}")
            await self._oauthbearer(conn, raw=header.api_version == 0, reauth=reauth)
            return

    async def _api_versions(self, conn: _Conn, header: w.RequestHeader) -> bool:
        if self._versions is None:
            self._versions = await self._fetch_upstream_versions()
        supported = header.api_version <= w.API_VERSIONS_MAX
        self._record("api_versions", conn.cid, version=header.api_version, supported=supported)
        if not supported:
            # Kafka: v0 layout, UNSUPPORTED_VERSION, only its own range; the client retries.
            only = {w.API_VERSIONS: (0, w.API_VERSIONS_MAX)}
            reply = w.encode_api_versions_response(
                header.correlation_id, 0, only, w.UNSUPPORTED_VERSION
            )
            await conn.send(reply)
            return False
        await conn.send(
            w.encode_api_versions_response(
                header.correlation_id, header.api_version, self._versions
            )
        )
        return True

    async def _fetch_upstream_versions(self) -> dict[int, tuple[int, int]]:
        if self.upstream is None:
            raise _Closed("no upstream broker configured")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), 10)
        try:
            writer.write(w.frame(w.api_versions_request(1)))
            size = int.from_bytes(await asyncio.wait_for(reader.readexactly(4), 10), "big")
            payload = await asyncio.wait_for(reader.readexactly(size), 10)
            versions = w.decode_api_versions_response(payload)
        finally:
            writer.close()
        versions[w.API_VERSIONS] = (0, w.API_VERSIONS_MAX)
        versions[w.SASL_HANDSHAKE] = (0, 1)
        versions[w.SASL_AUTHENTICATE] = (0, 2)
        return versions

    async def _oauthbearer(self, conn: _Conn, *, raw: bool, reauth: bool) -> None:
        """Kafka's OAuthBearerSaslServer, over raw frames (handshake v0) or SaslAuthenticate."""
        challenged: str | None = None  # the JSON error sent as a challenge, if any
        while True:
            payload = await conn.read_frame(MAX_AUTH_FRAME)
            header = None if raw else w.parse_request_header(payload)
            if header is None:
                message = payload
            elif header.api_key == w.SASL_AUTHENTICATE and header.api_version <= 2:
                message = w.parse_sasl_authenticate_request(payload, header)
            else:
                raise _Closed(f"unexpected request {header.api_key} during authentication")
            if challenged is not None and message == b"\x01":
                await _sasl_reply(conn, header, error=challenged)
                raise _Closed(f"authentication failed: {challenged}")
            version = None if header is None else header.api_version
            self._record("auth_attempt", conn.cid, reauth=reauth, sasl_authenticate=version)
            verdict, status, extensions = await self._evaluate(conn, message, reauth=reauth)
            if verdict.principal is None:
                self._record("auth_failure", conn.cid, reason=verdict.reason, reauth=reauth)
                reason = verdict.reason
                if status is not None:  # the validator refused the token (not a SaslException)
                    if self.failure_reply == "kafka":
                        challenged = status
                        await _sasl_reply(conn, header, data=status.encode())
                        continue
                    if self.failure_reply == "jairsjunior":
                        raise _Closed(f"authentication failed (no reply): {reason}")
                    reason = f"Authentication failed due to an invalid token: {reason}"
                await _sasl_reply(conn, header, error=reason)
                raise _Closed(f"authentication failed: {reason}")
            now_ms = int(self.clock() * 1000)
            lifetime = max(0, verdict.credential_expiry_ms - now_ms)
            conn.principal, conn.expires_at_ms = verdict.principal, now_ms + lifetime
            announced = lifetime if self.announce_session_lifetime else 0
            await _sasl_reply(conn, header, lifetime=announced)
            self._record(
                "auth_success",
                conn.cid,
                principal=verdict.principal,
                session_lifetime_ms=lifetime,
                extensions=extensions,
                reauth=reauth,
            )
            return

    async def _evaluate(
        self, conn: _Conn, message: bytes, *, reauth: bool
    ) -> tuple[_Verdict, str | None, dict[str, str]]:
        """(verdict, JSON status for a token-level refusal, extensions) for one message."""
        try:
            initial = w.parse_client_initial_response(message)
        except w.SaslError as exc:
            # A SaslException: Kafka logs the detail and tells the client only this.
            self._record("sasl_error", conn.cid, detail=str(exc))
            return _Verdict(None, INVALID_CREDENTIALS), None, {}
        verdict = await self._introspect(conn, initial.token)
        if verdict.principal is None:
            return verdict, INVALID_TOKEN, initial.extensions
        if initial.authorization_id not in ("", verdict.principal):
            refused = _Verdict(None, "authorization id differs from the token's principal")
            return (
                refused,
                json.dumps({"status": "invalid_authorizationId"}, separators=(",", ":")),
                {},
            )
        if reauth and verdict.principal != conn.principal:
            reason = (
                "Cannot change principals during re-authentication from "
                f"User:{conn.principal}: User:{verdict.principal}"
            )
            return _Verdict(None, reason), None, {}
        return verdict, None, initial.extensions

    # --- the validator plugin's HTTP call --------------------------------------------
    def _request(self, token: str) -> httpx.Request:
        """The POST exactly as the peer's Java code builds it (HttpURLConnection)."""
        if self.shape == "jairsjunior":
            # OauthHttpCalls.doHttpCall: raw "token=" + token, no URL-encoding.
            body = f"token={token}".encode()
            headers = [
                ("Authorization", self.authorization),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("charset", "utf-8"),
                ("Cache-Control", "no-cache"),  # added by setUseCaches(false)
                ("Pragma", "no-cache"),
            ]
        else:
            body = f"token={_java_url_encode(token)}".encode()  # URLEncoder.encode
            headers = [
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Accept", "application/json"),
            ]
            if self.client_id is not None:
                pair = f"{self.client_id}:{self.client_secret or ''}".encode()
                headers.insert(
                    0, ("Authorization", "Basic " + base64.urlsafe_b64encode(pair).decode())
                )
        headers += [("User-Agent", JAVA_USER_AGENT)]
        if self.shape == "jairsjunior":
            headers += [("Accept", JAVA_ACCEPT)]
        return httpx.Request("POST", self.introspection_url, headers=headers, content=body)

    async def _introspect(self, conn: _Conn, token: str) -> _Verdict:
        assert self._http is not None
        try:
            response = await self._http.send(self._request(token))
        except httpx.HTTPError as exc:
            self._record("introspection", conn.cid, status=None, error=repr(exc))
            return _Verdict(None, f"introspection failed: {exc!r}")
        self._record("introspection", conn.cid, status=response.status_code)
        ok = (200,) if self.shape == "jairsjunior" else (200, 201, 204)
        if response.status_code not in ok:
            return _Verdict(None, f"Return code {response.status_code}")
        try:
            claims = response.json()
        except ValueError:
            return _Verdict(None, "introspection response is not JSON")
        if not isinstance(claims, dict):
            return _Verdict(None, "introspection response is not a JSON object")
        if self.shape == "jairsjunior":
            return _check_jairsjunior(claims, exp_as_ms=self.exp_as_ms)
        return self._check_strimzi(claims, now=self.clock())

    def _check_strimzi(self, claims: dict[str, Any], *, now: float) -> _Verdict:
        """OAuthIntrospectionValidator's checks, in its order."""
        active, exp = claims.get("active"), claims.get("exp")
        if not isinstance(active, bool):
            return _Verdict(None, "Introspection response 'active' is not a boolean")
        if not active:
            return _Verdict(None, "Token is not active")
        if not _is_int(exp):
            return _Verdict(None, "Introspection response contains no valid 'exp'")
        if exp <= now:  # no clock skew allowed by default
            return _Verdict(None, f"Token expired at: {exp}")
        if self.valid_issuer is not None and claims.get("iss") != self.valid_issuer:
            return _Verdict(None, f"Token check failed - invalid issuer: {claims.get('iss')}")
        principal = claims.get(self.principal_claim)
        if not isinstance(principal, str) or not principal:
            return _Verdict(None, f"Failed to extract principal from '{self.principal_claim}'")
        return _Verdict(principal, credential_expiry_ms=exp * 1000)

    # --- after authentication: relay, re-authentication, session expiry --------------
    async def _relay(self, conn: _Conn) -> None:
        if self.upstream is None:
            raise _Closed("no upstream broker configured")
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._record("relay", conn.cid, upstream=self.upstream)
        pending: set[int] = set()  # correlation ids the broker has yet to answer
        drained = asyncio.Event()
        drained.set()

        async def client_to_broker() -> None:
            while True:
                payload = await conn.read_frame(MAX_FRAME)
                header = w.parse_request_header(payload)
                if header.api_key == w.SASL_HANDSHAKE:
                    # KIP-368. Kafka serves one request at a time per connection, so the
                    # handshake is answered only once earlier responses have gone out.
                    try:
                        await asyncio.wait_for(drained.wait(), 30)
                    except TimeoutError:
                        raise _Closed("re-authentication: broker responses pending") from None
                    await self._authenticate(conn, payload)
                    continue
                if self.clock() * 1000 >= conn.expires_at_ms:
                    self._record("session_expired", conn.cid, api_key=header.api_key)
                    raise _Closed("session expired")
                if header.api_key != w.PRODUCE or w.produce_acks(payload, header) != 0:
                    pending.add(header.correlation_id)
                    drained.clear()
                up_writer.write(w.frame(payload))
                await up_writer.drain()

        async def broker_to_client() -> None:
            while True:
                size = await up_reader.readexactly(4)
                payload = await up_reader.readexactly(int.from_bytes(size, "big"))
                pending.discard(int.from_bytes(payload[:4], "big", signed=True))
                if not pending:
                    drained.set()
                conn.writer.write(size + payload)
                await conn.writer.drain()

        tasks = [asyncio.create_task(client_to_broker()), asyncio.create_task(broker_to_client())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise _Closed and friends for the reason
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            up_writer.close()


INVALID_CREDENTIALS = (
    "Authentication failed during authentication due to invalid credentials "
    "with SASL mechanism OAUTHBEARER"
)


def _java_url_encode(text: str) -> str:
    """java.net.URLEncoder.encode(text, UTF_8): unlike Python's quote, '~' becomes %7E."""
    keep = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*_"
    return "".join(
        chr(b) if b in keep else "+" if b == 0x20 else f"%{b:02X}" for b in text.encode()
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_jairsjunior(claims: dict[str, Any], *, exp_as_ms: bool) -> _Verdict:
    """OauthHttpCalls.introspectBearer + OauthBearerTokenJwt(Map, String), cast by cast.

    Jackson maps JSON integers to Integer when they fit 32 bits, else Long; the Java
    casts then decide what crashes. It never checks ``exp`` itself.
    """
    active, exp, iat = claims.get("active"), claims.get("exp"), claims.get("iat")
    if not isinstance(active, bool):
        return _Verdict(None, "'active' is not a boolean (ClassCastException/NPE)")
    if not active:
        return _Verdict(None, "Expired Token")
    if not _is_int(exp):
        return _Verdict(None, "'exp' is not an integer (ClassCastException/NPE)")
    exp_is_int32 = exp <= INT32_MAX
    if exp_is_int32 and not (_is_int(iat) and iat <= INT32_MAX):
        return _Verdict(None, "'iat' missing or not a 32-bit integer (NullPointerException)")
    if not exp_is_int32 and iat is not None and not (_is_int(iat) and iat > INT32_MAX):
        return _Verdict(None, "'iat' is not a 64-bit integer (ClassCastException)")
    sub, jti = claims.get("sub"), claims.get("jti")
    if not isinstance(sub, str):
        return _Verdict(None, "'sub' is not a string")
    if jti is not None and not isinstance(jti, str):
        return _Verdict(None, "'jti' is not a string (ClassCastException)")
    # lifetimeMs() returns exp as is: seconds read as milliseconds (KAFKA-13848).
    return _Verdict(sub, credential_expiry_ms=exp if exp_as_ms else exp * 1000)


async def _sasl_reply(
    conn: _Conn,
    header: w.RequestHeader | None,
    *,
    error: str | None = None,
    data: bytes = b"",
    lifetime: int = 0,
) -> None:
    """A SaslAuthenticate response, or with handshake v0 a raw frame (failure: nothing)."""
    if header is None:
        if error is None:
            await conn.send(data)
        return
    code = w.NONE if error is None else w.SASL_AUTHENTICATION_FAILED
    response = w.encode_sasl_authenticate_response(
        header.correlation_id,
        header.api_version,
        error=code,
        message=error,
        auth_bytes=data,
        session_lifetime_ms=lifetime,
    )
    await conn.send(response)


# --- fixture -------------------------------------------------------------------------
class SaslFrontFactory:
    """Starts a front plus its own tansu (advertising the front) per call."""

    def __init__(self, tansu_factory: TansuFactory) -> None:
        self._tansu_factory = tansu_factory
        self._started: list[SaslFront] = []

    def __call__(self, introspection_url: str, **options: Any) -> SaslFront:
        front = SaslFront(introspection_url, **options)
        self._started.append(front)
        front.start()
        broker = self._tansu_factory(advertised_port=front.port)
        front.upstream = ("127.0.0.1", broker.port)
        return front

    def stop_all(self) -> None:
        for front in self._started:
            front.stop()
        errors = [e for front in self._started for e in front.of("front_error")]
        assert not errors, f"the SASL front itself failed: {errors}"


@pytest.fixture
def sasl_front_factory(tansu_factory: TansuFactory) -> Iterator[SaslFrontFactory]:
    """``sasl_front_factory(introspection_url, shape=..., **options) -> SaslFront``."""
    factory = SaslFrontFactory(tansu_factory)
    try:
        yield factory
    finally:
        factory.stop_all()
