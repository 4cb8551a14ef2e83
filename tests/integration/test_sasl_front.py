"""The SASL/OAUTHBEARER front (test infrastructure) with real clients and a real tansu.

These tests check the test bed itself: the front answers as a broker's SASL layer would,
asks the introspection endpoint in each peer's exact shape, and enforces the session
lifetime. The endpoint here is ``fake_validator``, a stub; tests of the product run the
same front against the real sidecar.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiokafka.abc
import pytest
from aiokafka import AIOKafkaProducer
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from kafka import KafkaProducer
from kafka.net.sasl.oauth import AbstractTokenProvider as KafkaPythonTokenProvider

from tests.support import kafka_wire as w
from tests.support import sasl_front as _sasl_front
from tests.support.fake_validator import FakeValidator
from tests.support.sasl_front import JAVA_ACCEPT, OffsetClock, SaslFront, SaslFrontFactory

pytestmark = pytest.mark.e2e

# Base64 and base64url characters plus padding: the whole alphabet Kafka's regex accepts.
TOKEN = "eyJhbGciOiJub25lIn0.c3ViOmFsaWNl+Zm9v/YmFy_LXo~fQ=="
PRINCIPAL = "alice"
N = 25
TIMEOUT_S = 20.0


def claims(exp_in: float = 3600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": PRINCIPAL, "exp": int(now + exp_in), "iat": now, **extra}


def config(front: SaslFront, token: str = TOKEN, **extra: Any) -> dict[str, Any]:
    """librdkafka through the front: SASL_PLAINTEXT + OAUTHBEARER with a fixed token."""
    return {
        "bootstrap.servers": front.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": lambda _config: (token, time.time() + 3600),
        **extra,
    }


def produce(conf: dict[str, Any], topic: str, count: int, start: int = 0) -> list[KafkaError]:
    """Produce ``count`` messages and flush (bounded); return the delivery errors."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    producer = Producer({"message.timeout.ms": 10000, **conf})
    for i in range(start, start + count):
        producer.produce(topic, value=f"m{i}".encode(), on_delivery=on_delivery)
    remaining = producer.flush(TIMEOUT_S)
    assert remaining == 0, f"{remaining} messages still queued"
    return errors


def consume(conf: dict[str, Any], topic: str, count: int) -> list[bytes]:
    """Read ``count`` messages from all partitions with ``assign()`` (tansu: no group join)."""
    consumer = Consumer({"group.id": "front-tests", "enable.auto.commit": False, **conf})
    try:
        partitions = consumer.list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        values: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT_S
        while len(values) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            value = None if msg is None or msg.error() else msg.value()
            if value is not None:
                values.append(value)
        return values
    finally:
        consumer.close()


def topic_name() -> str:
    return f"front-{uuid.uuid4().hex[:8]}"


# --- real librdkafka, both request shapes --------------------------------------------
@pytest.mark.parametrize("shape", ["jairsjunior", "strimzi"])
def test_librdkafka_produces_and_consumes_through_the_front(
    shape: str, fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    fake_validator.tokens[TOKEN] = claims(scope="kafka")
    options: dict[str, Any] = (
        {"authorization": "Basic aW50cm9zcGVjdG9yOnNlY3JldA=="}
        if shape == "jairsjunior"
        else {"client_id": "introspector", "client_secret": "s3cret?~"}
    )
    front = sasl_front_factory(fake_validator.url, shape=shape, **options)
    topic = topic_name()

    assert produce(config(front), topic, N) == []
    values = consume(config(front), topic, N)

    assert sorted(values) == sorted(f"m{i}".encode() for i in range(N))
    successes = front.of("auth_success")
    assert successes
    assert {e.detail["principal"] for e in successes} == {PRINCIPAL}
    assert all(0 < e.detail["session_lifetime_ms"] <= 3600_000 for e in successes)
    assert front.counts()["auth_failure"] == 0
    assert {e.detail["status"] for e in front.of("introspection")} == {200}
    assert {e.detail["version"] for e in front.of("handshake")} == {1}


def test_jairsjunior_request_is_what_its_java_code_sends(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    fake_validator.tokens[TOKEN] = claims()
    front = sasl_front_factory(fake_validator.url, shape="jairsjunior", authorization="")
    assert produce(config(front), topic_name(), 1) == []

    request = fake_validator.requests[0]
    assert request.body == f"token={TOKEN}".encode()  # raw: '+', '/' and '=' unencoded
    assert request.header("Authorization") == ""  # verbatim, even when empty
    assert request.header("charset") == "utf-8"
    assert request.header("Accept") == JAVA_ACCEPT
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert request.header("Accept-Encoding") is None


def test_strimzi_request_is_what_its_java_code_sends(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    fake_validator.tokens[TOKEN] = claims()
    front = sasl_front_factory(
        fake_validator.url, shape="strimzi", client_id="kafka-broker", client_secret="s>?"
    )
    assert produce(config(front), topic_name(), 1) == []

    request = fake_validator.requests[0]
    # java.net.URLEncoder: '+', '/', '=' and also '~' are percent-encoded.
    expected = TOKEN.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert request.body == b"token=" + expected.replace("~", "%7E").encode()
    assert request.header("Content-Type") == "application/x-www-form-urlencoded"
    assert request.header("Accept") == "application/json"
    # base64 of "kafka-broker:s>?" in the URL-safe alphabet ('-' and '_'), padded.
    assert request.header("Authorization") == "Basic a2Fma2EtYnJva2VyOnM-Pw=="


# --- refusals --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", ["jairsjunior", "strimzi"])
def test_refused_token_is_an_authentication_error_and_nothing_is_produced(
    shape: str, fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    front = sasl_front_factory(fake_validator.url, shape=shape)  # no token is active
    client_errors: list[KafkaError] = []
    conf = config(front, token="revoked.token", error_cb=client_errors.append)

    errors = produce({**conf, "message.timeout.ms": 1500}, topic_name(), 3)

    assert len(errors) == 3
    auth = [e for e in client_errors if e.code() == KafkaError._AUTHENTICATION]
    assert auth, client_errors
    assert "invalid_token" in auth[0].str()
    assert front.counts()["auth_success"] == 0
    assert front.counts()["relay"] == 0
    assert front.of("auth_failure")[0].detail["reason"] in ("Expired Token", "Token is not active")


def test_malformed_token_is_refused_before_introspection(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    front = sasl_front_factory(fake_validator.url, shape="strimzi")
    client_errors: list[KafkaError] = []
    conf = config(front, token="not a token", error_cb=client_errors.append)

    produce({**conf, "message.timeout.ms": 1500}, topic_name(), 1)

    assert any(e.code() == KafkaError._AUTHENTICATION for e in client_errors)
    assert front.of("sasl_error")
    assert fake_validator.requests == []


# --- session lifetime --------------------------------------------------------------------
@pytest.mark.parametrize("announce", [True, False])
def test_request_after_session_expiry_closes_the_connection(
    announce: bool, fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    """Kafka closes on the first request after expiry; a refreshed token reconnects."""
    clock = OffsetClock()
    fake_validator.tokens[TOKEN] = claims(exp_in=600)
    front = sasl_front_factory(
        fake_validator.url, shape="strimzi", clock=clock, announce_session_lifetime=announce
    )
    topic = topic_name()
    producer = Producer(config(front))
    delivered: list[Any] = []

    def send(i: int) -> None:
        producer.produce(
            topic, value=f"m{i}".encode(), on_delivery=lambda e, m: delivered.append(e)
        )
        assert producer.flush(TIMEOUT_S) == 0

    send(0)
    clock.advance(3600)  # every session is now past its exp
    fake_validator.tokens[TOKEN] = claims(exp_in=3600 + 600)  # the "refreshed" token
    send(1)

    assert delivered == [None, None]
    assert front.of("session_expired")
    assert any(e.detail["reauth"] is False for e in front.of("auth_success")[1:])


def test_jairsjunior_lifetime_bug_drops_the_connection_at_its_first_request(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    """KAFKA-13848 (exp_as_ms): exp in seconds read as ms, a session that ended in 1970."""
    fake_validator.tokens[TOKEN] = claims()
    front = sasl_front_factory(fake_validator.url, shape="jairsjunior", exp_as_ms=True)

    errors = produce({**config(front), "message.timeout.ms": 1500}, topic_name(), 1)

    assert len(errors) == 1
    assert {e.detail["session_lifetime_ms"] for e in front.of("auth_success")} == {0}
    assert front.of("session_expired")
    # With exp and iat in milliseconds (the sidecar's opt-in mode) the session is right.
    now_ms = int(time.time() * 1000)
    fake_validator.tokens[TOKEN] = claims() | {"exp": now_ms + 600_000, "iat": now_ms}
    assert produce(config(front), topic_name(), 1) == []


def test_librdkafka_reauthenticates_before_the_session_ends(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    """KIP-368: given session_lifetime_ms, librdkafka re-authenticates on the connection."""
    fake_validator.tokens[TOKEN] = claims(exp_in=3600)
    clock = OffsetClock()
    clock.advance(3600 - 3)  # sessions of ~3 s of real time
    front = sasl_front_factory(fake_validator.url, shape="jairsjunior", clock=clock)
    producer = Producer(config(front))
    topic = topic_name()
    producer.produce(topic, value=b"before")
    assert producer.flush(TIMEOUT_S) == 0

    [reauth, *_] = front.wait_for(
        "auth_success", where=lambda e: e.detail["reauth"], timeout=TIMEOUT_S
    )
    producer.produce(topic, value=b"after")
    assert producer.flush(TIMEOUT_S) == 0
    assert reauth.detail["principal"] == PRINCIPAL
    assert front.counts()["session_expired"] == 0


# --- other clients: SaslHandshake v1 + SaslAuthenticate ------------------------------
class AioTokens(aiokafka.abc.AbstractTokenProvider):  # type: ignore[misc]
    async def token(self) -> str:
        return TOKEN


class SyncTokens(KafkaPythonTokenProvider):  # type: ignore[misc]
    def token(self) -> str:
        return TOKEN


async def test_aiokafka_produces_through_the_front(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    fake_validator.tokens[TOKEN] = claims()
    front = sasl_front_factory(
        fake_validator.url, shape="strimzi", client_id="x", client_secret="y"
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=front.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=AioTokens(),
        request_timeout_ms=10000,
    )
    await asyncio.wait_for(producer.start(), TIMEOUT_S)
    try:
        topic = topic_name()
        for i in range(3):
            await asyncio.wait_for(producer.send_and_wait(topic, f"a{i}".encode()), TIMEOUT_S)
    finally:
        await asyncio.wait_for(producer.stop(), TIMEOUT_S)
    assert front.counts()["auth_success"] >= 1
    assert sorted(values_via_librdkafka(front, topic, 3)) == [b"a0", b"a1", b"a2"]


def test_kafka_python_produces_through_the_front(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    fake_validator.tokens[TOKEN] = claims()
    front = sasl_front_factory(fake_validator.url, shape="jairsjunior")
    producer = KafkaProducer(
        bootstrap_servers=front.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=SyncTokens(),
        request_timeout_ms=10000,
    )
    try:
        topic = topic_name()
        for i in range(3):
            producer.send(topic, f"k{i}".encode()).get(timeout=TIMEOUT_S)
    finally:
        producer.close(timeout=5)
    assert front.counts()["auth_success"] >= 1
    assert sorted(values_via_librdkafka(front, topic, 3)) == [b"k0", b"k1", b"k2"]


def values_via_librdkafka(front: SaslFront, topic: str, count: int) -> list[bytes]:
    return consume(config(front), topic, count)


# --- the front's own protocol answers, on a raw socket -------------------------------
def exchange(front: SaslFront, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
        return exchange_on(sock, request)


def exchange_on(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(w.frame(request))
    size = int.from_bytes(recv_exactly(sock, 4), "big")
    return recv_exactly(sock, size)


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed by the front")
        data += chunk
    return data


def header(api_key: int, version: int, correlation_id: int, flexible: bool = False) -> bytes:
    raw = api_key.to_bytes(2, "big") + version.to_bytes(2, "big")
    raw += correlation_id.to_bytes(4, "big") + (4).to_bytes(2, "big") + b"test"
    return raw + (b"\x00" if flexible else b"")


def test_unsupported_api_versions_version_gets_kafkas_v0_fallback(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    front = sasl_front_factory(fake_validator.url, shape="strimzi")
    body = b"\x05tool\x021\x00"  # compact strings + tagged fields (v3+ layout)
    response = exchange(front, header(w.API_VERSIONS, 9, 42, flexible=True) + body)
    r = w.Reader(response)
    assert r.int32() == 42
    assert r.int16() == w.UNSUPPORTED_VERSION
    assert r.int32() == 1
    assert (r.int16(), r.int16(), r.int16()) == (w.API_VERSIONS, 0, w.API_VERSIONS_MAX)


def test_api_versions_v3_advertises_sasl_and_the_brokers_apis(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    front = sasl_front_factory(fake_validator.url, shape="strimzi")
    response = exchange(front, header(w.API_VERSIONS, 3, 7, flexible=True) + b"\x05tool\x021\x00")
    r = w.Reader(response)
    assert (r.int32(), r.int16()) == (7, 0)
    keys = {}
    for _ in range(r.uvarint() - 1):
        key, low, high = r.int16(), r.int16(), r.int16()
        r.skip_tagged_fields()
        keys[key] = (low, high)
    assert r.int32() == 0  # throttle
    r.skip_tagged_fields()
    assert r.rest() == b""
    assert keys[w.SASL_HANDSHAKE] == (0, 1)
    assert keys[w.SASL_AUTHENTICATE] == (0, 2)
    assert keys[w.PRODUCE][1] >= 9  # the broker's own ranges pass through


def test_handshake_with_another_mechanism_lists_oauthbearer_and_closes(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    front = sasl_front_factory(fake_validator.url, shape="strimzi")
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
        response = exchange_on(sock, header(w.SASL_HANDSHAKE, 1, 3) + b"\x00\x05PLAIN")
        r = w.Reader(response)
        assert (r.int32(), r.int16(), r.int32()) == (3, w.UNSUPPORTED_SASL_MECHANISM, 1)
        assert r.nullable_string() == "OAUTHBEARER"
        assert sock.recv(1) == b""  # closed


@pytest.mark.parametrize("version", [0, 1, 2])
def test_saslauthenticate_versions_and_the_kafka_failure_dialogue(
    version: int, fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    """Refusal as Kafka's OAuthBearerSaslServer: JSON challenge, client's 0x01, then 58."""
    front = sasl_front_factory(fake_validator.url, shape="strimzi")
    flexible = version >= 2

    def authenticate(sock: socket.socket, auth: bytes, cid: int) -> w.Reader:
        size = (len(auth) + 1).to_bytes(1, "big") if flexible else len(auth).to_bytes(4, "big")
        body = size + auth + (b"\x00" if flexible else b"")
        r = w.Reader(exchange_on(sock, header(w.SASL_AUTHENTICATE, version, cid, flexible) + body))
        assert r.int32() == cid
        if flexible:
            r.skip_tagged_fields()  # response header v1
        return r

    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
        exchange_on(sock, header(w.SASL_HANDSHAKE, 1, 1) + b"\x00\x0bOAUTHBEARER")
        r = authenticate(sock, b"n,,\x01auth=Bearer unknown\x01\x01", 2)
        assert r.int16() == 0
        if flexible:
            assert r.compact_nullable_string() is None
            assert r.compact_bytes() == b'{"status":"invalid_token"}'
        else:
            assert r.nullable_string() is None
            assert r.bytes32() == b'{"status":"invalid_token"}'
        r = authenticate(sock, b"\x01", 3)
        assert r.int16() == w.SASL_AUTHENTICATION_FAILED
        message = r.compact_nullable_string() if flexible else r.nullable_string()
        assert message == '{"status":"invalid_token"}'
        assert sock.recv(1) == b""


@pytest.mark.parametrize(
    ("failure_reply", "expected"),
    [
        ("strimzi", "Authentication failed due to an invalid token: Token is not active"),
        ("jairsjunior", None),  # its NullPointerException: the broker just closes
    ],
)
def test_peer_specific_failure_replies(
    failure_reply: str,
    expected: str | None,
    fake_validator: FakeValidator,
    sasl_front_factory: SaslFrontFactory,
) -> None:
    front = sasl_front_factory(fake_validator.url, shape="strimzi", failure_reply=failure_reply)
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
        exchange_on(sock, header(w.SASL_HANDSHAKE, 1, 1) + b"\x00\x0bOAUTHBEARER")
        auth = b"n,,\x01auth=Bearer unknown\x01\x01"
        request = header(w.SASL_AUTHENTICATE, 1, 2) + len(auth).to_bytes(4, "big") + auth
        if expected is None:
            with pytest.raises(ConnectionError):
                exchange_on(sock, request)
            return
        r = w.Reader(exchange_on(sock, request))
        assert (r.int32(), r.int16(), r.nullable_string()) == (2, 58, expected)
        assert sock.recv(1) == b""


def test_introspection_error_status_is_a_refusal(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    fake_validator.tokens[TOKEN] = claims()
    fake_validator.status = 503
    front = sasl_front_factory(fake_validator.url, shape="jairsjunior")
    produce({**config(front), "message.timeout.ms": 1500}, topic_name(), 1)
    assert front.of("introspection")[0].detail["status"] == 503
    assert front.of("auth_failure")[0].detail["reason"] == "Return code 503"
    assert front.counts()["auth_success"] == 0


@pytest.mark.parametrize(
    ("answer", "accepted"),
    [
        ({"active": True, "exp": 2_000_000_000, "iat": 1, "sub": "a"}, True),
        ({"active": True, "exp": 2_000_000_000, "sub": "a"}, False),  # NPE on missing iat
        ({"active": True, "exp": 2_000_000_000_000, "sub": "a"}, True),  # Long exp: no iat
        ({"active": True, "exp": 2_000_000_000_000, "iat": 1, "sub": "a"}, False),  # cast
        ({"active": "true", "exp": 2_000_000_000, "iat": 1, "sub": "a"}, False),
        ({"active": True, "exp": 2e9, "iat": 1, "sub": "a"}, False),  # Double
        ({"active": True, "exp": 2_000_000_000, "iat": 1, "sub": 7}, False),
        ({"active": True, "exp": 2_000_000_000, "iat": 1, "sub": "a", "jti": 1}, False),
        ({"active": False}, False),
    ],
)
def test_jairsjunior_json_checks_follow_its_java_casts(
    answer: dict[str, Any], accepted: bool
) -> None:
    verdict = _sasl_front._check_jairsjunior(answer, exp_as_ms=False)
    assert (verdict.principal is not None) == accepted, verdict.reason


def test_handshake_v0_raw_frames_then_relay(
    fake_validator: FakeValidator, sasl_front_factory: SaslFrontFactory
) -> None:
    """SaslHandshake v0: the token goes as a bare frame; then Kafka requests are relayed."""
    fake_validator.tokens[TOKEN] = claims()
    front = sasl_front_factory(fake_validator.url, shape="jairsjunior")
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
        exchange_on(sock, header(w.SASL_HANDSHAKE, 0, 1) + b"\x00\x0bOAUTHBEARER")
        assert exchange_on(sock, f"n,,\x01auth=Bearer {TOKEN}\x01\x01".encode()) == b""
        keys = w.decode_api_versions_response(exchange_on(sock, w.api_versions_request(5)))
    assert w.PRODUCE in keys  # answered by tansu through the relay
    assert front.counts()["auth_success"] == 1


def wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
