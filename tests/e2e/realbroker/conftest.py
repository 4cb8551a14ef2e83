"""The realbroker tier: real Apache Kafka brokers with the real validator plugins.

No stand-in on the broker side: Apache Kafka 4.0 (KRaft) runs from the bundle with Strimzi
kafka-oauth's introspection validator, jairsjunior's handler, or Kafka's own JWT validator
(tests/support/realkafka.py finds the bundle; ``.ci/run`` requires it). Clients are
confluent-kafka with the package's ``oauth_cb`` configured by ``OAUTH_LOGIN_*`` only.

One in-process sidecar per module (a real uvicorn server; its clock an OffsetClock, so a
test ages the cache or expires a token by advancing it instead of sleeping), and brokers
started once per module, each on free loopback ports with a fresh log dir.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka import KafkaError, Producer

from oauthbearer.client.provider import TokenProvider
from oauthbearer.sidecar.app import INTROSPECT_PATH, create_app
from oauthbearer.sidecar.settings import SidecarSettings
from tests.e2e.conftest import (
    JAIRSJUNIOR_AUTHORIZATION,
    STRIMZI_CALLER,
    DecisionRecorder,
    SidecarHandle,
    login_env,
    serve_inprocess,
    sidecar_env,
)
from tests.support.idp import Idp, IdpClient
from tests.support.realkafka import (
    JAAS_MODULE,
    LISTENER,
    SASL_BASE,
    RealKafka,
    debug_log4j,
    strimzi_introspection,
)
from tests.support.sasl_front import OffsetClock
from tests.support.sidecar_process import SidecarProcess

if TYPE_CHECKING:
    from tests.e2e.realbroker.reauth import ReauthRun

EVENT_CALLER = ("revoker", "fake-realbroker-event-secret")


def strimzi_properties(sidecar_url: str, issuer: str) -> dict[str, str]:
    """Strimzi's introspection validator → our sidecar, as the Strimzi broker caller."""
    return strimzi_introspection(sidecar_url, issuer, *STRIMZI_CALLER)


@pytest.fixture(scope="module")
def rb_sidecar(idp: Idp) -> Iterator[SidecarHandle]:
    """The sidecar the module's brokers call; ``.clock`` moves its time."""
    recorder = DecisionRecorder()
    recorder.attach()
    clock = OffsetClock()
    settings = SidecarSettings.from_env(
        sidecar_env(
            idp,
            OAUTHBEARER_EVENT_CALLERS=":".join(EVENT_CALLER),
            OAUTHBEARER_NEGATIVE_CACHE_TTL="2",
        )
    )
    server, base = serve_inprocess(create_app(settings, clock=clock))
    try:
        yield SidecarHandle(base, lambda: list(recorder.decisions), clock=clock)
    finally:
        server.stop()
        recorder.detach()


def jairsjunior_broker(
    bundle: Path, log_dir: Path, sidecar_base: str, path: str, name: str
) -> RealKafka:
    """jairsjunior's handler, configured by the broker's environment only."""
    host_port = sidecar_base.removeprefix("http://")
    return RealKafka(
        bundle,
        log_dir,
        name=name,
        plugin="jairs",
        listener="SASL_PLAINTEXT",
        properties={
            **SASL_BASE,
            f"{LISTENER}.oauthbearer.sasl.server.callback.handler.class": (
                "br.com.jairsjunior.security.oauthbearer.OauthAuthenticateValidatorCallbackHandler"
            ),
            f"{LISTENER}.oauthbearer.sasl.jaas.config": f"{JAAS_MODULE} ;",
        },
        env={
            "OAUTH_WITH_SSL": "false",
            "OAUTH_INTROSPECT_SERVER": host_port,
            "OAUTH_INTROSPECT_ENDPOINT": path,
            "OAUTH_INTROSPECT_AUTHORIZATION": JAIRSJUNIOR_AUTHORIZATION,
        },
    )


def broker_conf(broker: RealKafka, oauth_cb: Callable[..., Any], **extra: Any) -> dict[str, Any]:
    return {
        "bootstrap.servers": broker.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "OAUTHBEARER",
        "oauth_cb": oauth_cb,
        **extra,
    }


def fixed_token(token: str) -> Callable[[str | None], tuple[str, float, str, dict[str, str]]]:
    """An oauth_cb that always hands out ``token`` (forged, expired or revoked)."""

    def cb(_config: str | None) -> tuple[str, float, str, dict[str, str]]:
        return token, time.time() + 300, "mallory", {}

    return cb


def forged(token: str) -> str:
    """``token`` with the last six characters of its signature changed: a forgery."""
    header, payload, signature = token.split(".")
    tail = "AAAAAA" if signature[-6:] != "AAAAAA" else "BBBBBB"
    return ".".join((header, payload, signature[:-6] + tail))


def auth_errors(errors: list[KafkaError]) -> list[str]:
    return [e.str() for e in errors if e.code() == KafkaError._AUTHENTICATION]


def refusal(broker: RealKafka, token: str) -> tuple[list[str], int]:
    """Produce one record with ``token``: the client's authentication errors, deliveries."""
    errors: list[KafkaError] = []
    delivered: list[int] = []
    producer = Producer(
        broker_conf(
            broker,
            fixed_token(token),
            error_cb=errors.append,
            # Long enough for a refused login (Strimzi answers in ~0.3 s), short enough that
            # the refusal tests do not dominate the tier's runtime.
            **{"message.timeout.ms": 2000, "reconnect.backoff.max.ms": 500},
        )
    )
    producer.produce(
        "refused", b"x", on_delivery=lambda err, _msg: delivered.append(0 if err else 1)
    )
    producer.flush(10)
    return auth_errors(errors), sum(delivered)


#: How each validator words the refusal the client sees in its _AUTHENTICATION error:
#: Kafka's own sends RFC 7628's ``invalid_token`` status; Strimzi's puts its reason in the
#: SaslAuthenticate error message ("Token validation failed: Token not active").
REFUSAL_WORDING = ("invalid_token", "Token validation failed: Token not active")


def assert_invalid_token(broker: RealKafka, token: str) -> None:
    errors, delivered = refusal(broker, token)
    assert delivered == 0
    assert errors, "no _AUTHENTICATION error reported"
    assert all(any(w in e for w in REFUSAL_WORDING) for e in errors), errors


# --- the KIP-368 run (tests/e2e/realbroker/reauth.py) ------------------------------------
REAUTH_TEST = "test_reauthentication.py::"


@pytest.fixture(scope="session")
def reauth_run(
    kafka_bundle: Path,
    idp_clients: dict[str, IdpClient],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ReauthRun]:
    """The 90 s producer against its own broker, started once and running in a thread."""
    # Imported here: reauth.py imports broker_conf from this module.
    from tests.e2e.realbroker import reauth

    work = tmp_path_factory.mktemp("reauth")
    short_idp = Idp(idp_clients, access_token_ttl=reauth.TOKEN_TTL_S, log_dir=work).start()
    stack = contextlib.ExitStack()
    stack.callback(short_idp.stop)
    with stack:
        # A process of its own: an in-process sidecar's decision lines would reach the
        # recorders of the modules running meanwhile (one logger per process).
        sidecar = SidecarProcess("sidecar", sidecar_env(short_idp), work).start()
        stack.callback(sidecar.close)
        sidecar.wait_ready()
        base = sidecar.url
        broker = RealKafka(
            kafka_bundle,
            work,
            name="reauth",
            plugin="strimzi",
            listener="SASL_PLAINTEXT",
            properties={
                **strimzi_properties(base + INTROSPECT_PATH, short_idp.issuer),
                "connections.max.reauth.ms": str(reauth.REAUTH_MS),
            },
            log4j_config=debug_log4j(
                work / "log4j2.yaml",
                "org.apache.kafka.common.security.authenticator.SaslServerAuthenticator",
            ),
        )
        stack.callback(broker.stop)
        broker.start()
        # Configured as a user does, by the OAUTH_LOGIN_* variables (as a mapping: the
        # process environment belongs to the tests running meanwhile).
        provider = TokenProvider.from_env(login_env(short_idp, "jwt"))
        stack.callback(provider.close)
        run = reauth.ReauthRun(broker, provider).start()
        stack.callback(run.stop)
        yield run


@pytest.fixture(scope="session", autouse=True)
def _reauth_run_starts_with_the_tier(request: pytest.FixtureRequest) -> None:
    """Start the KIP-368 run at the tier's first test when its test is selected: its 90 s
    then pass while the rest of the session runs (tests/conftest.py puts its test last)."""
    if any(REAUTH_TEST in item.nodeid for item in request.session.items):
        request.getfixturevalue("reauth_run")
