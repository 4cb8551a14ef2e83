"""aiokafka and kafka-python adapters over the same core, against their real base classes."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import httpx
import pytest
import respx
from aiokafka import AIOKafkaProducer
from aiokafka.abc import AbstractTokenProvider as AiokafkaBase
from kafka.net.sasl.oauth import AbstractTokenProvider as KafkaPythonBase
from kafka.net.sasl.oauth import SaslMechanismOAuth

from oauthbearer.client.aiokafka import AiokafkaTokenProvider
from oauthbearer.client.kafka_python import KafkaPythonTokenProvider
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import TokenEndpointError

from .conftest import TOKEN_URL, FakeClock, ProviderFactory, token_response

SETTINGS = ClientSettings(token_url=TOKEN_URL, sasl_extensions=(("logicalCluster", "lkc-7"),))


@pytest.fixture
def idp() -> Iterator[respx.Route]:
    with respx.mock(assert_all_called=False) as router:
        yield router.post(TOKEN_URL).mock(return_value=token_response("adapter-token"))


# --- aiokafka ---------------------------------------------------------------------------------
async def test_aiokafka_adapter_is_the_real_abstract_provider(
    idp: respx.Route, make_provider: ProviderFactory
) -> None:
    adapter = AiokafkaTokenProvider(make_provider(SETTINGS))
    assert isinstance(adapter, AiokafkaBase)
    assert await adapter.token() == "adapter-token"
    assert adapter.extensions() == {"logicalCluster": "lkc-7"}
    # aiokafka itself accepts it (its constructor type-checks the provider).
    producer = AIOKafkaProducer(
        bootstrap_servers="127.0.0.1:9",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=adapter,
    )
    assert producer is not None


async def test_aiokafka_cached_path_does_not_use_a_thread(
    idp: respx.Route, make_provider: ProviderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = AiokafkaTokenProvider(make_provider())
    assert await adapter.token() == "adapter-token"

    async def no_thread(*args: object, **kwargs: object) -> object:
        raise AssertionError("the cached path must not leave the event loop")

    monkeypatch.setattr(asyncio, "to_thread", no_thread)
    assert await adapter.token() == "adapter-token"
    assert idp.call_count == 1


async def test_aiokafka_fetch_never_blocks_the_event_loop(make_provider: ProviderFactory) -> None:
    entered = threading.Event()
    release = threading.Event()

    def slow_idp(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(10)
        return token_response("slow-token")

    with respx.mock:
        respx.post(TOKEN_URL).mock(side_effect=slow_idp)
        adapter = AiokafkaTokenProvider(make_provider())
        task = asyncio.ensure_future(adapter.token())
        ticks = 0
        while not entered.is_set():  # the loop keeps running while the fetch starts
            ticks += 1
            await asyncio.sleep(0.001)
        for _ in range(10):  # ...and while it is blocked on the server
            ticks += 1
            await asyncio.sleep(0)
        assert not task.done()
        release.set()
        assert await task == "slow-token"
    assert ticks >= 10


async def test_aiokafka_failure_is_logged_and_raised(
    idp: respx.Route, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    idp.mock(return_value=httpx.Response(400, json={"error": "invalid_scope"}))
    adapter = AiokafkaTokenProvider(make_provider())
    with pytest.raises(TokenEndpointError):
        await adapter.token()
    assert any(
        r.levelno == logging.ERROR
        and "aiokafka" in r.getMessage()
        and "invalid_scope" in r.getMessage()
        for r in caplog.records
    )


# --- kafka-python ---------------------------------------------------------------------------------
def test_kafka_python_adapter_builds_the_exact_initial_response(
    idp: respx.Route, make_provider: ProviderFactory
) -> None:
    adapter = KafkaPythonTokenProvider(make_provider(SETTINGS))
    assert isinstance(adapter, KafkaPythonBase)
    assert adapter.token() == "adapter-token"
    mechanism = SaslMechanismOAuth(sasl_oauth_token_provider=adapter)
    # RFC 7628 §3.1 client initial response, as kafka-python sends it.
    assert (
        mechanism.auth_bytes()
        == b"n,,\x01auth=Bearer adapter-token\x01logicalCluster=lkc-7\x01\x01"
    )
    assert idp.call_count == 1


def test_kafka_python_failure_is_logged_and_raised(
    idp: respx.Route, make_provider: ProviderFactory, caplog: pytest.LogCaptureFixture
) -> None:
    idp.mock(return_value=httpx.Response(401, json={"error": "invalid_client"}))
    adapter = KafkaPythonTokenProvider(make_provider())
    with pytest.raises(TokenEndpointError):
        adapter.token()
    assert any(
        "kafka-python" in r.getMessage() and "invalid_client" in r.getMessage()
        for r in caplog.records
    )


def test_kafka_python_never_sleeps_out_a_backoff_in_its_network_loop(
    idp: respx.Route, make_provider: ProviderFactory, clock: FakeClock
) -> None:
    # kafka-python asks on the one thread that serves all of a client's connections:
    # during an outage each reconnect slept out the retry delay (5-6 s) before failing.
    idp.mock(return_value=httpx.Response(503, headers={"Retry-After": "6"}))
    adapter = KafkaPythonTokenProvider(make_provider())
    for _ in range(3):
        with pytest.raises(TokenEndpointError):
            adapter.token()
    assert clock.sleeps == []
    assert idp.call_count == 1  # the backoff holds: no request until Retry-After passes


@pytest.mark.parametrize("library", ["kafka-python", "aiokafka"])
async def test_a_due_refresh_never_holds_up_the_librarys_connection(
    library: str, make_provider: ProviderFactory, clock: FakeClock
) -> None:
    # kafka-python asks inside its network loop, aiokafka on every connection: with a
    # valid token cached, a due refresh runs in the background and the old token is
    # handed out at once, however slow the authorization server is.
    entered, release = threading.Event(), threading.Event()
    tokens = iter(["fake-first", "fake-second"])

    def slow_second(request: httpx.Request) -> httpx.Response:
        token = next(tokens)
        if token == "fake-second":
            entered.set()
            release.wait(10)
        return token_response(token)

    with respx.mock:
        respx.post(TOKEN_URL).mock(side_effect=slow_second)
        provider = make_provider()
        kafka_python = KafkaPythonTokenProvider(provider)
        aiokafka = AiokafkaTokenProvider(provider)

        async def ask() -> str:
            return kafka_python.token() if library == "kafka-python" else await aiokafka.token()

        assert await ask() == "fake-first"
        clock.now += 0.9 * 270  # past the refresh point, the token still valid
        assert await ask() == "fake-first"  # at once: the refresh is in the background
        assert entered.wait(5)
        assert await ask() == "fake-first"  # one refresh in flight, not one per call
        release.set()
        for _ in range(500):
            current = provider.current()
            if current is not None and current.access_token == "fake-second":
                break
            await asyncio.sleep(0.01)  # polling the background thread, bounded
        assert await ask() == "fake-second"
        assert len(respx.calls) == 2
