"""Refresh-token rotation (RFC 6749 §6, RFC 9700 §4.14.2) across the shared cache.

The fake server below behaves as rotation-enforcing servers do: each refresh token works
once, the answer carries its successor, and presenting a retired one is ``invalid_grant``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from oauthbearer._secret import Secret
from oauthbearer.client.exchange import Answer
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.leader import FetchLeader
from oauthbearer.client.metrics import NullMetrics
from oauthbearer.client.provider import TokenCache
from oauthbearer.client.rotation import (
    LateRotation,
    RefreshHeldBack,
    RefreshInFlight,
    RefreshTokens,
)
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import TokenEndpointError, TokenRequestError, TokenResponseError

from .conftest import START, TOKEN_URL, FakeClock, ProviderFactory, make_jwt

# token answers last 600 s: minus the 30 s skew, 570 s; refresh at 80 % = 456 s.
REFRESH_DUE = 456.0
ISSUER = "https://idp.example/realms/kafka"


class RotatingIdp:
    """A token endpoint that rotates refresh tokens and refuses a reused one."""

    def __init__(self, first: str = "rt-1") -> None:
        self.live = {first}
        self.sent: list[str] = []
        self.issued = 0
        self.access_token: str | None = None  # None: opaque "at-<n>"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        used = dict(parse_qsl(request.content.decode()))["refresh_token"]
        self.sent.append(used)
        if used not in self.live:
            return httpx.Response(400, json={"error": "invalid_grant"})
        self.live.discard(used)
        self.issued += 1
        successor = f"rt-{self.issued + 1}"
        self.live.add(successor)
        body = {
            "access_token": self.access_token or f"at-{self.issued}",
            "token_type": "Bearer",
            "expires_in": 600,
            "refresh_token": successor,
        }
        return httpx.Response(200, json=body)


@pytest.fixture
def server() -> Iterator[RotatingIdp]:
    fake = RotatingIdp()
    with respx.mock:
        respx.post(TOKEN_URL).mock(side_effect=fake)
        yield fake


def refresh_settings() -> ClientSettings:
    return ClientSettings(
        token_url=TOKEN_URL,
        grant_type="refresh_token",
        refresh_token=Secret("rt-1"),
        client_id="kafka",
        client_secret=Secret("fake-client-secret"),
    )


def test_the_provider_leading_a_refresh_sends_the_latest_rotation(
    server: RotatingIdp, clock: FakeClock, cache: TokenCache, make_provider: ProviderFactory
) -> None:
    # Two clients built alike share one cache slot; provider a received rt-2.
    a, b = make_provider(refresh_settings()), make_provider(refresh_settings())
    assert a.token().access_token == "at-1"
    assert b.token().access_token == "at-1"  # a cache hit: no request
    clock.advance(REFRESH_DUE + 1)
    assert b.token().access_token == "at-2"  # b leads this refresh: it must send rt-2
    clock.advance(REFRESH_DUE + 1)
    assert a.token().access_token == "at-3"  # and a the one b received
    assert server.sent == ["rt-1", "rt-2", "rt-3"]
    shared = cache.slot(refresh_settings().identity()).refresh_tokens
    assert "rt-" not in repr(shared)  # it holds a secret: the repr never shows it


def test_a_rotation_in_an_answer_refused_for_its_access_token_is_kept(
    server: RotatingIdp, clock: FakeClock, make_provider: ProviderFactory
) -> None:
    # The server's clock is 15 min behind ours: its JWT looks expired on arrival, so the
    # answer is refused, but the server has retired rt-1 all the same.
    server.access_token = make_jwt({"sub": "svc", "exp": int(START) - 300})
    p = make_provider(refresh_settings())
    with pytest.raises(TokenResponseError, match="expired already"):
        p.token()
    server.access_token = None
    assert p.token().access_token == "at-2"
    assert server.sent == ["rt-1", "rt-2"]


def test_clearing_the_cache_keeps_the_current_refresh_token(
    server: RotatingIdp, cache: TokenCache, make_provider: ProviderFactory
) -> None:
    p = make_provider(refresh_settings())
    p.token()
    cache.clear()  # forgets the access token; the server has still retired rt-1
    assert p.token().access_token == "at-2"
    assert server.sent == ["rt-1", "rt-2"]


class HeldIdp(RotatingIdp):
    """A rotating endpoint whose first answer waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.held: threading.Thread | None = None  # the exchange's worker, held

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = super().__call__(request)
        if len(self.sent) == 1:
            self.held = threading.current_thread()
            self.entered.set()
            assert self.release.wait(10)
        return answer


def _timed_out_refresh(
    clock: FakeClock, idp: HeldIdp | None = None, **settings: Any
) -> tuple[HeldIdp, TokenFetcher]:
    """A fetcher whose first refresh (rt-1) the server holds past the 2 s deadline."""
    idp = HeldIdp() if idp is None else idp
    fetcher = _fetcher_giving_up(clock, idp, **settings)
    with pytest.raises(TokenRequestError, match="timed out after 2 s"):
        fetcher.fetch()
    return idp, fetcher


def _answer_late(idp: HeldIdp, seconds_past_the_deadline: float, clock: FakeClock) -> None:
    clock.advance(seconds_past_the_deadline)
    idp.release.set()
    assert idp.held is not None
    idp.held.join(10)
    assert not idp.held.is_alive()


def _fetcher_giving_up(clock: FakeClock, idp: HeldIdp, **settings: Any) -> TokenFetcher:
    gave_up: list[bool] = []

    def wait(done: threading.Event, timeout: float) -> bool:
        # The caller's wait, on the fake clock. Every exchange is waited for until it is
        # done, except the one the server holds: once that has reached the server, its
        # deadline passes. (Judged by the server's own signal, not by whether the
        # exchange happens to be done yet, which would race with discovery GETs.)
        while not done.wait(0.001):
            if not gave_up and idp.entered.is_set():
                gave_up.append(True)
                clock.advance(timeout)
                return False
        return True

    options: dict[str, Any] = {
        "token_url": TOKEN_URL,
        "client_id": "kafka",
        "client_secret": Secret("fake-secret"),
        "grant_type": "refresh_token",
        "refresh_token": Secret("rt-1"),
        "timeout": 2.0,
        **settings,
    }
    transport = httpx.MockTransport(idp)
    return TokenFetcher(
        ClientSettings(**options),
        http_client=httpx.Client(transport=transport),
        clock=clock,
        monotonic=clock.monotonic,
        wait=wait,
    )


def test_a_refresh_answered_after_the_deadline_keeps_the_token_it_rotated(
    clock: FakeClock,
) -> None:
    idp, fetcher = _timed_out_refresh(clock)
    # The server retired rt-1 and its answer is still on the way: rt-1 is not sent again.
    with pytest.raises(TokenRequestError, match="not sent again until it ends") as info:
        fetcher.fetch()
    assert "rt-1" not in str(info.value)
    assert idp.sent == ["rt-1"]
    _answer_late(idp, 1.0, clock)  # within one more budget
    assert fetcher.fetch().access_token == "at-2"
    assert idp.sent == ["rt-1", "rt-2"]  # the rotated token, never the retired one


def test_a_refresh_unanswered_for_one_more_budget_lets_the_old_token_be_sent(
    clock: FakeClock,
) -> None:
    idp, fetcher = _timed_out_refresh(clock)
    _answer_late(idp, 2.5, clock)  # past one more budget
    # Nothing was kept from an answer this late: the only token left is the one we sent.
    with pytest.raises(TokenEndpointError) as info:
        fetcher.fetch()
    assert info.value.error == "invalid_grant"
    assert idp.sent == ["rt-1", "rt-1"]


@pytest.mark.parametrize(
    "answer",
    [
        None,  # nothing came within one more budget
        Answer(400, httpx.Headers(), b'{"error":"invalid_grant","refresh_token":"rt-2"}'),
        Answer(200, httpx.Headers(), b"<html>not a token answer</html>"),
        Answer(200, httpx.Headers(), b'{"refresh_token":"rt-2","n":' + b"9" * 5000 + b"}"),
        Answer(200, httpx.Headers(), b'{"refresh_token":"rt-2","x":' + b"[" * 100_000 + b"}"),
    ],
    ids=["none", "refused", "not-json", "huge-number", "nested-too-deep"],
)
def test_a_late_answer_that_issued_nothing_usable_releases_the_token(
    answer: Answer | None,
) -> None:
    tokens = RefreshTokens(threading.Lock())
    assert tokens.current("rt-1") == "rt-1"
    late = LateRotation(tokens, "idp.example")
    late.given_up()
    with pytest.raises(RefreshInFlight):
        tokens.current("rt-1")
    late.ended(answer)
    assert tokens.current("rt-1") == "rt-1"  # sendable again, and nothing kept


def test_a_late_answer_for_a_replaced_family_does_not_overwrite_the_new_one() -> None:
    tokens = RefreshTokens(threading.Lock())
    assert tokens.current("rt-1") == "rt-1"
    late = LateRotation(tokens, "idp.example")
    late.given_up()
    assert tokens.current("new-1") == "new-1"  # the operator replaced the file: sent at once
    tokens.rotated("new-2")  # the new family's answer
    late.ended(Answer(200, httpx.Headers(), b'{"access_token":"a","refresh_token":"rt-2"}'))
    assert tokens.current("new-1") == "new-2"


def test_a_refresh_held_back_does_not_rediscover_the_endpoint_each_time(
    clock: FakeClock,
) -> None:
    idp = HeldIdp()
    discoveries: list[str] = []

    class Discovering(HeldIdp):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET":
                discoveries.append(str(request.url))
                return httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": TOKEN_URL})
            return idp(request)

    server = Discovering()
    server.entered, server.release = idp.entered, idp.release
    _, fetcher = _timed_out_refresh(clock, server, token_url=None, issuer=ISSUER)
    # A timeout keeps the endpoint (the server is there, only slow), and so does a refresh
    # held back, however often: discovered once.
    for _ in range(3):
        with pytest.raises(TokenRequestError, match="not sent again until it ends"):
            fetcher.fetch()
    assert len(discoveries) == 1
    idp.release.set()
    assert idp.held is not None
    idp.held.join(10)


def test_a_wait_interrupted_gives_the_refresh_up_all_the_same(clock: FakeClock) -> None:
    idp = HeldIdp()

    def interrupted(done: threading.Event, timeout: float) -> bool:
        assert idp.entered.wait(10)
        raise KeyboardInterrupt

    fetcher = TokenFetcher(
        ClientSettings(
            token_url=TOKEN_URL,
            client_id="kafka",
            client_secret=Secret("fake-secret"),
            grant_type="refresh_token",
            refresh_token=Secret("rt-1"),
        ),
        http_client=httpx.Client(transport=httpx.MockTransport(idp)),
        clock=clock,
        monotonic=clock.monotonic,
        wait=interrupted,
    )
    with pytest.raises(KeyboardInterrupt):
        fetcher.fetch()
    with pytest.raises(TokenRequestError, match="not sent again until it ends"):
        fetcher.fetch()
    assert idp.sent == ["rt-1"]
    _answer_late(idp, 0.5, clock)


def test_a_refresh_held_back_is_no_failure_of_the_endpoint(clock: FakeClock) -> None:
    """The timeout counts towards the backoff; the hold-backs after it (nothing sent) do
    not, and are looked at again after the backoff's base: counted, they had pushed the
    first real attempt after the late answer up to 16 s out."""
    idp = HeldIdp()
    fetcher = _fetcher_giving_up(clock, idp, backoff_base=0.5)
    settings = ClientSettings(
        token_url=TOKEN_URL, grant_type="refresh_token", refresh_token=Secret("rt-1")
    )
    slot = TokenCache().slot(settings.identity())
    leader = FetchLeader(
        ClientSettings(token_url=TOKEN_URL, backoff_base=0.5, timeout=2.0),
        fetcher,
        slot,
        clock=clock,
        monotonic=clock.monotonic,
        random=lambda: 1.0,  # the whole backoff window: growth would show
        metrics=NullMetrics(),
        principal=lambda token: "kafka",
    )
    deadline = clock.monotonic() + 3600
    assert leader.fetch(None, deadline) is None  # timed out: a failure, retried
    assert slot.failures == 1
    for _ in range(6):
        assert leader.fetch(None, deadline) is None
        assert isinstance(slot.last_error, RefreshHeldBack)
        assert (slot.failures, slot.retry_at) == (1, clock.monotonic() + 0.5)
    assert idp.sent == ["rt-1"]  # nothing was sent while held back
    _answer_late(idp, 1.0, clock)
    token = leader.fetch(None, deadline)
    assert token is not None
    assert token.access_token == "at-2"
    assert (slot.failures, idp.sent) == (0, ["rt-1", "rt-2"])
