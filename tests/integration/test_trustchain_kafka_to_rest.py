"""The trust chain end to end, with real parts: IdP -> Kafka record header -> REST API.

* the authorization server is the real npm ``oidc-provider`` (fixture ``idp``);
* the broker path is real: confluent-kafka (librdkafka) logs in with SASL/OAUTHBEARER
  using our ``TokenProvider`` (client "basic"), through the SASL front
  (``sasl_front_factory``, Strimzi shape) to tansu; the front validates that login with
  OUR SIDECAR (``create_app`` under uvicorn on loopback, in a thread) — not the
  ``fake_validator`` stub: the broker login is the sidecar's real job;
* the user's token (another real IdP token) travels in the record header
  ``oauthbearer-token``; the consumer reads with ``list_topics`` + ``assign()`` on every
  partition (tansu has no group join), runs ``verify_record`` with a
  ``BlockingVerifier(JwksVerifier(idp.jwks_url))``, then calls a Starlette service
  protected by ``BearerTokenMiddleware`` (in-process, ``httpx.ASGITransport``) with
  ``BearerAuth``.

Refusals, each with a clear error at ``verify_record`` and again at the REST service:
a tampered token (signature), a token expired beyond the grace at the record's
timestamp (the record is stamped by the producer two hours after the token's ``exp``;
the consumer runs three hours "later" on an injected clock — no sleeping), and a token
for another audience (the IdP's opaque resource ``urn:kafka:opaque``, checked by RFC
7662 introspection through the same sidecar).
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from oauthbearer._secret import Secret
from oauthbearer.client.confluent import make_oauth_cb
from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import TokenMissing, TokenRejected
from oauthbearer.sidecar.app import INTROSPECT_PATH, create_app
from oauthbearer.sidecar.settings import SidecarSettings
from oauthbearer.trustchain import (
    BearerAuth,
    BearerTokenMiddleware,
    BlockingVerifier,
    IntrospectionVerifier,
    JwksVerifier,
    attach_token,
    claims_of,
    verify_record,
    verify_record_async,
)
from tests.support.idp import JWT_RESOURCE, SCOPE, Idp
from tests.support.sasl_front import SaslFrontFactory

pytestmark = [pytest.mark.trustchain, pytest.mark.integration, pytest.mark.e2e]

CALLER = ("kafka-broker", "fake-trustchain-caller-secret")
CALLER_AUTHORIZATION = "Basic " + base64.b64encode(":".join(CALLER).encode()).decode()
TIMEOUT_S = 20.0
GRACE_S = 600.0
HOUR = 3600.0


# --- the sidecar for the broker's SASL login --------------------------------------------
@pytest.fixture
def sidecar_url(idp: Idp) -> Iterator[str]:
    """Our sidecar under a real uvicorn on loopback; yields its introspection URL."""
    env = {
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_ISSUER": idp.issuer,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,
        "OAUTHBEARER_CALLERS": ":".join(CALLER),
    }
    app = create_app(SidecarSettings.from_env(env))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, loop="asyncio", lifespan="on", log_config=None, log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert thread.is_alive(), "sidecar thread ended"
        assert time.monotonic() < deadline, "sidecar did not get ready"
        time.sleep(0.1)
    try:
        yield base + INTROSPECT_PATH
    finally:
        server.should_exit = True
        thread.join(10)


# --- Kafka --------------------------------------------------------------------------------
def kafka_conf(bootstrap: str, provider: TokenProvider) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": make_oauth_cb(provider),
    }


def produce(conf: dict[str, Any], topic: str, records: list[tuple[str, str, int]]) -> None:
    """(key, user token, timestamp ms) per record, the token in the record's headers."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    producer = Producer({"message.timeout.ms": 10000, **conf})
    for key, token, timestamp_ms in records:
        producer.produce(
            topic,
            key=key.encode(),
            value=b"order placed",
            headers=attach_token([("event", b"order")], token),
            timestamp=timestamp_ms,
            on_delivery=on_delivery,
        )
    assert producer.flush(TIMEOUT_S) == 0
    assert errors == []


def consume(conf: dict[str, Any], topic: str, count: int) -> dict[str, Message]:
    """``count`` messages by key, read with ``assign()`` on every partition."""
    consumer = Consumer({"group.id": "trustchain", "enable.auto.commit": False, **conf})
    try:
        metadata = consumer.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
        partitions = list(metadata.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: dict[str, Message] = {}
        deadline = time.monotonic() + TIMEOUT_S
        while len(messages) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                messages[(msg.key() or b"").decode()] = msg
        assert len(messages) == count, f"read {len(messages)} of {count}"
        return messages
    finally:
        consumer.close()


# --- the downstream REST service ----------------------------------------------------------
async def orders(request: Request) -> JSONResponse:
    return JSONResponse({"as": claims_of(request)["sub"]})


def jwks_verifier(idp: Idp, **options: Any) -> JwksVerifier:
    return JwksVerifier(idp.jwks_url, issuer=idp.issuer, audiences=JWT_RESOURCE, **options)


def rest_service(verifier: JwksVerifier) -> Starlette:
    app = Starlette(routes=[Route("/orders", orders)])
    app.add_middleware(BearerTokenMiddleware, verifier=verifier, realm="orders")
    return app


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = _b64decode(payload)
    forged = claims.replace(b'"sub":"', b'"sub":"x', 1)
    assert forged != claims
    return f"{header}.{base64.urlsafe_b64encode(forged).rstrip(b'=').decode()}.{signature}"


def test_user_token_travels_from_kafka_record_to_rest_api(
    idp: Idp, sidecar_url: str, sasl_front_factory: SaslFrontFactory
) -> None:
    front = sasl_front_factory(
        sidecar_url,
        shape="strimzi",
        client_id=CALLER[0],
        client_secret=CALLER[1],
        valid_issuer=idp.issuer,
    )
    basic = idp.clients["basic"]
    service_login = TokenProvider(
        ClientSettings(
            token_url=idp.token_url,
            client_id=basic.client_id,
            client_secret=Secret(basic.client_secret or ""),
            scope=SCOPE,
        ),
        cache=TokenCache(),
    )
    conf = kafka_conf(front.bootstrap, service_login)

    user_token: str = idp.fetch_token("basic")["access_token"]
    other_audience: str = idp.fetch_token("opaque")["access_token"]
    now_ms = int(time.time() * 1000)
    user_exp = int(json.loads(_b64decode(user_token.split(".")[1]))["exp"])
    after_expiry_ms = int((user_exp + 2 * HOUR) * 1000)
    topic = f"trustchain-{uuid.uuid4().hex[:8]}"
    produce(
        conf,
        topic,
        [
            ("valid", user_token, now_ms),
            ("tampered", tamper(user_token), now_ms),
            ("expired", user_token, after_expiry_ms),
            ("other-audience", other_audience, now_ms),
        ],
    )
    messages = consume(conf, topic, 4)
    assert front.counts()["auth_failure"] == 0
    assert front.counts()["auth_success"] >= 2  # producer and consumer logged in via the sidecar

    later = lambda: time.time() + 3 * HOUR  # noqa: E731 - the consumer runs hours later
    with BlockingVerifier(jwks_verifier(idp)) as verifier:
        # 1. Valid: verified, forwarded, accepted by the REST service as the user.
        claims = verify_record(messages["valid"], verifier, grace=GRACE_S)
        assert claims["sub"] == basic.client_id
        assert claims.token == user_token
        service = rest_service(
            JwksVerifier(idp.jwks_url, issuer=idp.issuer, audiences=JWT_RESOURCE)
        )
        transport = httpx.ASGITransport(app=service)

        async def call(token_or_claims: Any) -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://orders") as client:
                if isinstance(token_or_claims, str):
                    return await client.get(
                        "/orders", headers={"Authorization": f"Bearer {token_or_claims}"}
                    )
                return await client.get("/orders", auth=BearerAuth(token_or_claims))

        answer = asyncio.run(call(claims))
        assert answer.status_code == 200
        assert answer.json() == {"as": basic.client_id}

        # 2. Tampered: the signature does not verify, at the consumer and at the service.
        with pytest.raises(TokenRejected) as tampered:
            verify_record(messages["tampered"], verifier, grace=GRACE_S)
        assert tampered.value.reason == "signature"
        refused = asyncio.run(call(tamper(user_token)))
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

        # 3. Expired beyond grace at the record's timestamp (consumed three hours later).
        # The topic's records carry CreateTime, which their producer chose: they are
        # judged at their own time only when the consumer vouches for the producers.
        with pytest.raises(TokenRejected) as expired:
            verify_record(
                messages["expired"], verifier, grace=GRACE_S, clock=later, trust_create_time=True
            )
        assert expired.value.reason == "expired"
        assert "record's timestamp" in str(expired.value)
        # ...while the valid record, consumed as late, is still judged at its own time.
        assert verify_record(
            messages["valid"], verifier, grace=GRACE_S, clock=later, trust_create_time=True
        )
        # Without that, a producer-chosen timestamp buys nothing: judged at now, refused.
        with pytest.raises(TokenRejected, match="CreateTime is its producer's to choose"):
            verify_record(messages["valid"], verifier, grace=GRACE_S, clock=later)
        late_service = rest_service(jwks_verifier(idp, clock=later))
        transport = httpx.ASGITransport(app=late_service)
        refused = asyncio.run(call(user_token))
        assert refused.status_code == 401
        assert 'error_description="expired"' in refused.headers["WWW-Authenticate"]

    # 4. Another audience: an opaque token for urn:kafka:opaque, introspected through the
    #    same sidecar (RFC 7662), refused for its audience.
    async def introspected() -> None:
        verifier = IntrospectionVerifier(
            sidecar_url,
            issuer=idp.issuer,
            audiences=JWT_RESOURCE,
            authorization=CALLER_AUTHORIZATION,
        )
        try:
            with pytest.raises(TokenRejected) as wrong:
                await verify_record_async(messages["other-audience"], verifier)
            assert wrong.value.reason == "audience"
            assert "audience mismatch" in str(wrong.value)
            # The same verifier accepts the valid JWT record (the sidecar verified it).
            ok = await verify_record_async(messages["valid"], verifier)
            assert ok["sub"] == basic.client_id
        finally:
            await verifier.aclose()

    asyncio.run(introspected())
    # And the JWKS verifier refuses the opaque token outright.
    with BlockingVerifier(
        JwksVerifier(idp.jwks_url, issuer=idp.issuer, audiences=JWT_RESOURCE)
    ) as v:
        with pytest.raises(TokenRejected, match="malformed"):
            verify_record(messages["other-audience"], v)
        with pytest.raises(TokenMissing):
            verify_record(([("event", b"order")], int(time.time() * 1000)), v)
    service_login.close()
