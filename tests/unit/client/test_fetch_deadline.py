"""One fetch, one deadline: discovery, the token request and a retry share ``timeout``.

confluent-kafka's constructor waits 10 s for the first token (CONTRACT §6), so a fetch
must end within its budget whatever the authorization server does: answer slowly on
each request, or dribble its answer a few bytes at a time (httpx's read timeout is per
socket read, not per request). Time is the fake clock's; nothing here sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from oauthbearer._secret import FileSecret, Secret
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import TokenRequestError

from .conftest import TOKEN_URL, FakeClock, token_response

ISSUER = "https://idp.example/realms/kafka"
OIDC = "https://idp.example/realms/kafka/.well-known/openid-configuration"
RFC8414 = "https://idp.example/.well-known/oauth-authorization-server/realms/kafka"
DISCOVERED = "https://tokens.example:8443/realms/kafka/token"
METADATA = {"issuer": ISSUER, "token_endpoint": DISCOVERED}
SECRET = "fake-client-secret-never-shown"


def fetcher(settings: ClientSettings, clock: FakeClock, **kwargs: Any) -> TokenFetcher:
    return TokenFetcher(
        settings, http_client=httpx.Client(), clock=clock, monotonic=clock.monotonic, **kwargs
    )


def read_timeout(request: httpx.Request) -> float:
    timeout: dict[str, float] = request.extensions["timeout"]
    assert len(set(timeout.values())) == 1  # every phase gets what is left, no more
    return timeout["read"]


def slow(
    clock: FakeClock, seconds: float, response: httpx.Response, seen: list[float]
) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect: note the request's timeout, take ``seconds``, answer."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(read_timeout(request))
        clock.advance(seconds)
        return response

    return answer


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def test_discovery_and_the_token_request_share_one_budget(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    seen: list[float] = []
    router.get(OIDC).mock(side_effect=slow(clock, 1.5, httpx.Response(404), seen))
    router.get(RFC8414).mock(side_effect=slow(clock, 1.5, httpx.Response(200, json=METADATA), seen))
    router.post(DISCOVERED).mock(side_effect=slow(clock, 1.0, token_response(), seen))
    f = fetcher(ClientSettings(issuer=ISSUER, timeout=5.0), clock)
    f.fetch()
    assert seen == [5.0, 3.5, 2.0]


def test_discovery_that_uses_the_budget_up_sends_no_token_request(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    seen: list[float] = []
    router.get(OIDC).mock(side_effect=slow(clock, 2.5, httpx.Response(404), seen))
    router.get(RFC8414).mock(side_effect=slow(clock, 2.5, httpx.Response(200, json=METADATA), seen))
    token = router.post(DISCOVERED).mock(return_value=token_response())
    f = fetcher(ClientSettings(issuer=ISSUER, timeout=5.0), clock)
    with pytest.raises(TokenRequestError, match="timed out after 5 s") as info:
        f.fetch()
    assert info.value.endpoint_host == "tokens.example:8443"  # the host that ran out
    assert token.call_count == 0


def test_the_retry_after_invalid_client_gets_what_is_left(
    router: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    path = tmp_path / "secret"
    path.write_text("old-fake-secret")
    seen: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(read_timeout(request))
        if dict(parse_qsl(request.content.decode()))["client_secret"] == "new-fake-secret":
            clock.advance(1.0)
            return token_response("fresh")
        clock.advance(3.0)
        path.write_text("new-fake-secret")  # the mounted Secret rotated under us
        return httpx.Response(401, json={"error": "invalid_client"})

    router.post(TOKEN_URL).mock(side_effect=answer)
    s = ClientSettings(
        token_url=TOKEN_URL,
        client_id="kafka",
        client_secret=FileSecret(path),
        auth_method="client_secret_post",
        timeout=5.0,
    )
    assert fetcher(s, clock).fetch().access_token == "fresh"
    assert seen == [5.0, 2.0]


def test_a_dribbled_answer_is_cut_off_at_the_deadline(clock: FakeClock) -> None:
    body = b'{"access_token": "dribbled-token", "token_type": "Bearer", "expires_in": 300}'
    pieces = [body[i : i + 10] for i in range(0, len(body), 10)]
    sent: list[bytes] = []

    def dribble() -> Iterator[bytes]:
        for piece in pieces:
            clock.advance(2.0)  # each piece inside any per-read timeout
            sent.append(piece)
            yield piece

    def idp(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"Content-Length": str(len(body))}, stream=_Stream(dribble())
        )

    s = ClientSettings(token_url=TOKEN_URL, client_id="kafka", client_secret=Secret(SECRET))
    f = TokenFetcher(
        s,
        http_client=httpx.Client(transport=httpx.MockTransport(idp)),
        clock=clock,
        monotonic=clock.monotonic,
    )
    with pytest.raises(TokenRequestError, match="timed out after 5 s") as info:
        f.fetch()
    assert info.value.endpoint_host == "idp.example"
    assert SECRET not in str(info.value)
    assert len(sent) == 3  # stopped at the first piece past the deadline, not at the end
    assert len(pieces) > 3


def test_a_server_that_never_answers_does_not_hold_the_caller(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    release = threading.Event()
    entered = threading.Event()

    def stuck(request: httpx.Request) -> httpx.Response:
        entered.set()
        release.wait(10)  # a read that httpx cannot time out (bytes keep coming)
        return token_response("too-late")

    def wait(done: threading.Event, timeout: float) -> bool:
        # The caller's wait for the exchange, on the fake clock: the time runs out.
        assert entered.wait(10)
        clock.advance(timeout)
        return done.is_set()

    router.post(TOKEN_URL).mock(side_effect=stuck)
    s = ClientSettings(token_url=TOKEN_URL, client_secret=Secret(SECRET), client_id="k")
    f = fetcher(s, clock, wait=wait)
    try:
        with pytest.raises(TokenRequestError, match="timed out after 2 s") as info:
            f.fetch(timeout=2.0)
        assert info.value.endpoint_host == "idp.example"
        assert SECRET not in str(info.value)
    finally:
        release.set()
        for worker in threading.enumerate():
            if worker.name == "oauthbearer-http":
                worker.join(10)
                assert not worker.is_alive()  # the abandoned exchange ended and closed


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks


def test_an_answer_that_ends_as_the_caller_stops_waiting_is_the_callers(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    def wait(done: threading.Event, timeout: float) -> bool:
        # The wait times out just as the worker finishes: the answer is there all the same.
        assert done.wait(10)
        return False

    router.post(TOKEN_URL).mock(return_value=token_response("just-in-time"))
    s = ClientSettings(token_url=TOKEN_URL, client_secret=Secret(SECRET), client_id="k")
    assert fetcher(s, clock, wait=wait).fetch(timeout=2.0).access_token == "just-in-time"
