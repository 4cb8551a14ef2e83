"""The introspection endpoint against both peers' exact request shapes, and its failure modes.

The upstream authorization server and its JWKS are respx routes behind the injected
``httpx.AsyncClient``; the app runs in-process with its lifespan; the clock is fake.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import respx
from joserfc.jwk import RSAKey

from oauthbearer._secret import FileSecret
from oauthbearer.sidecar.instance import Sidecar
from tests.unit.sidecar.conftest import (
    CALLER_ID,
    CALLER_SECRET,
    JWKS_URL,
    NOW,
    UPSTREAM_AUTHORIZATION,
    UPSTREAM_URL,
    FakeClock,
    Harness,
    basic,
    jwks_of,
    make_settings,
    running,
    sign,
    unsigned_jwt,
)

# An opaque token with '+', '/' and '=' — the characters form decoding mangles.
OPAQUE = "op+aque/Tok3n+with/slashes=="
JAVA_ACCEPT = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2"

UPSTREAM_ACTIVE: dict[str, Any] = {
    "active": True,
    "sub": "orders-service",
    "client_id": "orders-service",
    "username": "orders",
    "scope": "kafka write",
    "token_type": "Bearer",
    "exp": int(NOW) + 300,
    "iat": int(NOW) - 10,
    "nbf": int(NOW) - 10,
    "iss": "https://idp.example",
    "aud": ["urn:kafka", "urn:other"],
    "jti": "abc-123",
    "tenant": "blue",
}


@pytest.fixture
async def harness(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> AsyncIterator[Harness]:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    async with running(make_settings(), router, clock) as h:
        yield h


def assert_active_types(body: dict[str, Any]) -> None:
    """Every field's JSON type, as CONTRACT.md §1, §2 and §4 require."""
    assert body["active"] is True
    assert type(body["exp"]) is int
    assert type(body["iat"]) is int
    assert isinstance(body["sub"], str)
    assert body["sub"]
    if "scope" in body:
        assert isinstance(body["scope"], str)
    if "nbf" in body:
        assert type(body["nbf"]) is int
    for name in ("iss", "client_id", "username", "token_type", "jti"):
        if name in body:
            assert isinstance(body[name], str), name
    if "aud" in body:
        assert isinstance(body["aud"], str | list)


def upstream_saw_token(router: respx.MockRouter) -> str:
    request = router.calls.last.request
    assert request.headers["Authorization"] == UPSTREAM_AUTHORIZATION
    body = request.content.decode()
    from urllib.parse import parse_qs

    return parse_qs(body, strict_parsing=True)["token"][0]


# --- jairsjunior: raw body, stray charset header, Java Accept, verbatim Authorization ----


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", None])
async def test_jairsjunior_request_bytes_for_bytes(
    harness: Harness, content_type: str | None
) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    headers = {
        "Authorization": basic(CALLER_ID, CALLER_SECRET),  # the configured header, verbatim
        "charset": "utf-8",
        "Accept": JAVA_ACCEPT,
        "User-Agent": "Java/17.0.9",
    }
    if content_type:
        # HttpURLConnection adds this itself when a body is written without one.
        headers["Content-Type"] = content_type
    response = await harness.client.post(
        "/oauth2/introspect", content=b"token=" + OPAQUE.encode(), headers=headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_active_types(body)
    assert body["sub"] == "orders-service"
    assert body["scope"] == "kafka write"
    assert body["aud"] == ["urn:kafka", "urn:other"]
    assert body["tenant"] == "blue"
    assert body["exp"] == int(NOW) + 300
    # The '+' the raw body carried reached the upstream as '+', not as a space.
    assert route.call_count == 1
    assert upstream_saw_token(harness.router) == OPAQUE


async def test_jairsjunior_empty_authorization_is_refused(harness: Harness) -> None:
    # It sends its configured header even when empty; without anonymous callers: 401.
    response = await harness.client.post(
        "/oauth2/introspect",
        content=b"token=" + OPAQUE.encode(),
        headers={"Authorization": "", "charset": "utf-8", "Accept": JAVA_ACCEPT},
    )
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


# --- Strimzi: URL-encoded body, URL-safe Basic with padding -----------------------------


async def test_strimzi_request_bytes_for_bytes(harness: Harness) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    authorization = basic(CALLER_ID, CALLER_SECRET, urlsafe=True)
    standard = basic(CALLER_ID, CALLER_SECRET)
    # The point of the test: the two alphabets differ for these credentials.
    assert authorization != standard
    assert any(c in authorization for c in "-_")
    assert any(c in standard for c in "+/")
    assert authorization.endswith("=")  # Strimzi keeps the padding
    response = await harness.client.post(
        "/oauth2/introspect",
        content=b"token=op%2Baque%2FTok3n%2Bwith%2Fslashes%3D%3D",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Authorization": authorization,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert_active_types(body)
    assert body["iss"] == "https://idp.example"
    assert route.call_count == 1
    assert upstream_saw_token(harness.router) == OPAQUE


async def test_token_type_hint_is_ignored(harness: Harness) -> None:
    harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    response = await harness.client.post(
        "/oauth2/introspect",
        content=b"token_type_hint=refresh_token&token=" + OPAQUE.encode(),
        headers={"Authorization": basic(CALLER_ID, CALLER_SECRET)},
    )
    assert response.status_code == 200
    assert response.json()["active"] is True


async def test_jwt_verified_locally_without_upstream(harness: Harness, rsa_key: RSAKey) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(500)
    token = sign(rsa_key, {"scope": ["kafka", "read"], "iat": None})
    response = await harness.introspect(token)
    body = response.json()
    assert_active_types(body)
    assert body["scope"] == "kafka read"
    assert body["iat"] == int(NOW)  # synthesised: jairsjunior crashes without it
    assert route.call_count == 0


async def test_nothing_is_answered_active_until_the_revocation_topics_are_replayed(
    harness: Harness, rsa_key: RSAKey
) -> None:
    # A sidecar beside its broker is called on loopback whatever /readyz says: while the
    # topics' history is still being read after a (re)start, a token revoked there must
    # not be answered active. Inactive answers need no revocation to be right.
    harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    jwt = sign(rsa_key, {})
    harness.sidecar.revocations.replayed = False
    for token in (jwt, OPAQUE, jwt):  # verified locally, upstream, then cached
        response = await harness.introspect(token)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json() == {"error": "temporarily_unavailable"}
    forged = unsigned_jwt({"alg": "RS256", "kid": rsa_key.kid}, {"sub": "x"}, b"f" * 256)
    refused = await harness.introspect(forged)
    assert (refused.status_code, refused.content) == (200, b'{"active":false}')
    assert b'result="unavailable",source="none"} 3.0' in harness.sidecar.metrics.render()

    harness.sidecar.revocations.replayed = True
    for token in (jwt, OPAQUE):
        assert (await harness.introspect(token)).json()["active"] is True


@pytest.mark.parametrize(("ttl", "lifetime"), [(0.0, 60), (0.5, 60), (300.0, 300)])
async def test_an_upstream_answer_without_exp_is_active_whatever_the_cache_ttl(
    router: respx.MockRouter, clock: FakeClock, ttl: float, lifetime: int
) -> None:
    # exp is optional in RFC 7662. Its stand-in was now + the cache TTL, so a TTL under
    # one second (0: "cache nothing") made it now, and every such token was refused.
    router.post(UPSTREAM_URL).respond(200, json={"active": True, "sub": "app"})
    async with running(make_settings(cache_ttl=ttl), router, clock) as h:
        body = (await h.introspect(OPAQUE)).json()
    assert body["active"] is True
    assert body["exp"] == int(NOW) + lifetime


async def test_an_upstream_answer_with_null_dates_is_read_as_without_them(
    harness: Harness,
) -> None:
    # Servers that serialise every field write "exp": null; read as a number, that made
    # every token of such an identity provider inactive.
    answer = {"active": True, "sub": "app", "exp": None, "iat": None, "nbf": None}
    harness.router.post(UPSTREAM_URL).respond(200, json=answer)
    body = (await harness.introspect(OPAQUE)).json()
    assert_active_types(body)
    assert body["exp"] == int(NOW) + 60  # the cache TTL's stand-in, as for no exp
    assert "nbf" not in body


def test_a_sidecar_reading_revocation_topics_starts_not_replayed() -> None:
    settings = make_settings(events_bootstrap_servers="127.0.0.1:9", revocations_topic="revs")
    assert Sidecar(settings).revocations.replayed is False
    assert Sidecar(make_settings()).revocations.replayed is True


# --- inactive: exactly {"active": false} ------------------------------------------------


@pytest.mark.parametrize(
    "upstream",
    [
        {"active": False},
        {"active": False, "error": "revoked", "sub": "someone"},
        # Active but no usable subject (CONTRACT §4 requires a non-empty string sub).
        {"active": True, "exp": int(NOW) + 60},
        # Active but already expired by our clock: never answered active past exp,
        # not even within the clock skew (an active answer with an exp already past).
        {"active": True, "sub": "x", "exp": int(NOW) - 3600},
        {"active": True, "sub": "x", "exp": int(NOW) - 10},
        {"active": True, "sub": "x", "exp": int(NOW)},
    ],
)
async def test_inactive_is_only_active_false(harness: Harness, upstream: dict[str, Any]) -> None:
    harness.router.post(UPSTREAM_URL).respond(200, json=upstream)
    response = await harness.introspect(OPAQUE)
    assert response.status_code == 200
    assert response.content == b'{"active":false}'


@pytest.mark.parametrize("expired_for", [0, 10, 29])
async def test_a_jwt_past_its_exp_is_inactive_within_the_clock_skew(
    harness: Harness, rsa_key: RSAKey, expired_for: int
) -> None:
    # The skew (30 s here) forgives nbf and iat from a fast issuer clock, never exp: an
    # answer "active" whose exp is already past contradicts itself (CONTRACT §2, §3).
    token = sign(rsa_key, {"exp": int(NOW) - expired_for, "iat": int(NOW) - 300})
    for path in ("/oauth2/introspect", "/oauth2/introspect/jairsjunior-ms"):
        response = await harness.introspect(token, path=path)
        assert response.content == b'{"active":false}', path
    fresh = sign(rsa_key, {"nbf": int(NOW) + 20, "iat": int(NOW) + 20})  # issuer 20 s ahead
    assert (await harness.introspect(fresh)).json()["active"] is True


async def test_garbage_token_is_inactive_without_upstream_call(harness: Harness) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    response = await harness.introspect("not%20a%20token%21")
    assert response.json() == {"active": False}
    assert route.call_count == 0


async def test_garbage_tokens_fill_only_the_inactive_side_of_the_cache(harness: Harness) -> None:
    """One sum of both sides made a flood of garbage look like a full active cache, and
    README's alert then said to raise OAUTHBEARER_CACHE_MAX_ENTRIES."""
    harness.router.post(UPSTREAM_URL).respond(200, json={"active": False})
    for number in range(5):
        await harness.introspect(f"opaque-nobody-issued-{number}")
    metrics = (await harness.client.get("/metrics")).text
    assert 'oauthbearer_sidecar_cache_entries{kind="active"} 0.0' in metrics
    assert 'oauthbearer_sidecar_cache_entries{kind="inactive"} 5.0' in metrics


@pytest.mark.parametrize("where", [0, 1, 2])
async def test_a_signed_looking_token_out_of_shape_is_judged_on_its_shape(
    harness: Harness, rsa_key: RSAKey, caplog: pytest.LogCaptureFixture, where: int
) -> None:
    # The shape is only checked once the signature has failed (a verified token always
    # has it): the answer and the logged reason are what they were when it came first.
    caplog.set_level(logging.INFO, "oauthbearer.sidecar.decision")
    route = harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    assert (await harness.introspect(sign(rsa_key))).json()["active"] is True
    segments = sign(rsa_key, {"jti": "bent"}).split(".")
    segments[where] = segments[where][:8] + "!" + segments[where][8:]
    bent = ".".join(segments)
    response = await harness.introspect(quote(bent, safe=""))
    assert response.content == b'{"active":false}'
    assert route.call_count == 0
    decisions = [r for r in caplog.records if getattr(r, "decision", {}).get("result")]
    last = decisions[-1].decision  # type: ignore[attr-defined]
    assert (last["source"], last["reason"]) == ("none", "not shaped like an access token")


# --- 400 / 401 / 413 / 503 --------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"token=", b"tok=abc", b"token=a&token=b", b"\xff\xfe=token", b'{"token":"abc"}'],
)
async def test_malformed_request_is_400(harness: Harness, body: bytes) -> None:
    response = await harness.client.post(
        "/oauth2/introspect",
        content=body,
        headers={"Authorization": basic(CALLER_ID, CALLER_SECRET)},
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic(CALLER_ID, "wrong-secret"),
        basic("stranger", CALLER_SECRET),
        "Bearer not-configured",
        "Basic !!!not-base64!!!",
        "Digest whatever",
    ],
)
async def test_wrong_caller_is_401(harness: Harness, authorization: str | None) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await harness.client.post(
        "/oauth2/introspect", content=b"token=" + OPAQUE.encode(), headers=headers
    )
    assert response.status_code == 401
    # RFC 6749 §5.2: the challenge matches the scheme the client used (Basic without one).
    used_bearer = authorization is not None and authorization.startswith("Bearer ")
    expected = "Bearer " if used_bearer else "Basic "
    assert response.headers["WWW-Authenticate"].startswith(expected)
    assert response.json() == {"error": "invalid_client"}
    assert route.call_count == 0


async def test_body_over_limit_is_413(harness: Harness) -> None:
    big = b"token=" + b"a" * 20_000
    response = await harness.client.post(
        "/oauth2/introspect",
        content=big,
        headers={"Authorization": basic(CALLER_ID, CALLER_SECRET)},
    )
    assert response.status_code == 413


async def test_streamed_body_over_limit_is_413(harness: Harness) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"token="
        for _ in range(40):
            yield b"a" * 1000

    response = await harness.client.post(
        "/oauth2/introspect",
        content=chunks(),
        headers={"Authorization": basic(CALLER_ID, CALLER_SECRET)},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(500, text="boom"),
        httpx.Response(502),
        httpx.Response(401, json={"error": "invalid_client"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, content=b'{"active":true,"x":' + b"[" * 100_000 + b"}"),
        httpx.Response(200, content=b'{"active":true,"n":' + b"9" * 5000 + b"}"),
        httpx.Response(200, json=["active", True]),
        httpx.Response(200, json={"active": "true", "sub": "x", "exp": int(NOW) + 60}),
        httpx.Response(200, json={"active": 1}),
        httpx.Response(200, json={"sub": "x"}),
    ],
)
async def test_upstream_failure_is_503_never_cached(
    harness: Harness, failure: httpx.Response
) -> None:
    route = harness.router.post(UPSTREAM_URL).mock(return_value=failure)
    for _ in range(2):
        response = await harness.introspect(OPAQUE)
        assert response.status_code == 503
        assert response.json() == {"error": "temporarily_unavailable"}
        assert "active" not in response.text
    assert route.call_count == 2  # not cached: the second request asked again


@pytest.mark.parametrize(
    "exc", [httpx.ReadTimeout("slow"), httpx.ConnectTimeout("slow"), httpx.ConnectError("down")]
)
async def test_upstream_transport_errors_are_503(harness: Harness, exc: Exception) -> None:
    harness.router.post(UPSTREAM_URL).mock(side_effect=exc)
    response = await harness.introspect(OPAQUE)
    assert response.status_code == 503


async def test_slow_upstream_gives_503_quickly(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))

    async def hang(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json=UPSTREAM_ACTIVE)

    router.post(UPSTREAM_URL).mock(side_effect=hang)
    async with running(make_settings(upstream_timeout=0.05), router, clock) as h:
        started = asyncio.get_running_loop().time()
        response = await h.introspect(OPAQUE)
        elapsed = asyncio.get_running_loop().time() - started
    assert response.status_code == 503
    assert elapsed < 2


async def test_503_recovers_when_upstream_returns(harness: Harness) -> None:
    harness.router.post(UPSTREAM_URL).mock(
        side_effect=[httpx.ConnectError("down"), httpx.Response(200, json=UPSTREAM_ACTIVE)]
    )
    assert (await harness.introspect(OPAQUE)).status_code == 503
    assert (await harness.introspect(OPAQUE)).json()["active"] is True


# --- cache through the app --------------------------------------------------------------


async def test_cache_hit_serves_without_upstream_until_ttl(
    harness: Harness, clock: FakeClock
) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    first = await harness.introspect(OPAQUE)
    clock.advance(59)
    second = await harness.introspect(OPAQUE)
    assert first.json() == second.json()
    assert route.call_count == 1
    clock.advance(1)  # CACHE_TTL (60 s) reached: ask the upstream again
    await harness.introspect(OPAQUE)
    assert route.call_count == 2


async def test_a_withdrawn_signing_key_takes_its_cached_verdicts_with_it(
    harness: Harness, rsa_key: RSAKey, rsa_key2: RSAKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "oauthbearer.sidecar")
    harness.router.post(UPSTREAM_URL).respond(500)  # JWTs never go upstream
    old, new = sign(rsa_key), sign(rsa_key2)
    assert (await harness.introspect(old)).json()["active"] is True  # verified, cached
    assert len(harness.sidecar.cache) == 1

    # The IdP rotates: k1 is gone from its JWKS (perhaps compromised), k2 is in.
    harness.router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key2))
    await harness.sidecar.jwks.refresh()

    assert len(harness.sidecar.cache) == 0  # not served until its TTL: judged again
    assert (await harness.introspect(old)).json() == {"active": False}
    assert (await harness.introspect(new)).json()["active"] is True
    assert "JWKS no longer holds key(s) 'k1': dropped 1 cached JWT verdicts" in caplog.text

    # A refresh that withdraws nothing leaves the cache alone.
    await harness.sidecar.jwks.refresh()
    assert (await harness.introspect(new)).json()["active"] is True
    assert harness.sidecar.cache.hits >= 1


async def test_revocation_visible_after_cache_ttl(harness: Harness, clock: FakeClock) -> None:
    harness.router.post(UPSTREAM_URL).mock(
        side_effect=[
            httpx.Response(200, json=UPSTREAM_ACTIVE),
            httpx.Response(200, json={"active": False}),
        ]
    )
    assert (await harness.introspect(OPAQUE)).json()["active"] is True
    clock.advance(30)
    assert (await harness.introspect(OPAQUE)).json()["active"] is True  # cached
    clock.advance(30)
    assert (await harness.introspect(OPAQUE)).json() == {"active": False}


async def test_negative_cache_shields_upstream(harness: Harness, clock: FakeClock) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(200, json={"active": False})
    for _ in range(5):
        assert (await harness.introspect(OPAQUE)).json() == {"active": False}
    assert route.call_count == 1
    clock.advance(2)
    await harness.introspect(OPAQUE)
    assert route.call_count == 2


async def test_single_flight_100_concurrent_requests_one_upstream_call(
    harness: Harness,
) -> None:
    release = asyncio.Event()
    calls = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await release.wait()
        return httpx.Response(200, json=UPSTREAM_ACTIVE)

    harness.router.post(UPSTREAM_URL).mock(side_effect=slow)
    tasks = [asyncio.create_task(harness.introspect(OPAQUE)) for _ in range(100)]
    for _ in range(200):  # let every request reach the flight before the upstream answers
        await asyncio.sleep(0)
    release.set()
    responses = await asyncio.gather(*tasks)
    assert calls == 1
    assert all(r.status_code == 200 and r.json()["active"] is True for r in responses)


async def test_single_flight_shares_a_failure_without_caching_it(harness: Harness) -> None:
    release = asyncio.Event()
    calls = 0

    async def failing(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await release.wait()
        return httpx.Response(503)

    harness.router.post(UPSTREAM_URL).mock(side_effect=failing)
    tasks = [asyncio.create_task(harness.introspect(OPAQUE)) for _ in range(20)]
    for _ in range(100):
        await asyncio.sleep(0)
    release.set()
    responses = await asyncio.gather(*tasks)
    assert calls == 1
    assert {r.status_code for r in responses} == {503}
    await harness.introspect(OPAQUE)
    assert calls == 2


async def test_bounded_upstream_concurrency(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    release = asyncio.Event()
    in_flight = peak = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return httpx.Response(200, json={"active": False})

    router.post(UPSTREAM_URL).mock(side_effect=slow)
    async with running(make_settings(upstream_max_concurrency=3), router, clock) as h:
        tasks = [asyncio.create_task(h.introspect(f"distinct-token-{i}")) for i in range(20)]
        for _ in range(200):
            await asyncio.sleep(0)
        assert peak == 3
        release.set()
        responses = await asyncio.gather(*tasks)
    assert peak == 3
    assert all(r.json() == {"active": False} for r in responses)


# --- milliseconds compatibility path ----------------------------------------------------


async def test_milliseconds_path_for_jairsjunior_on_kafka_33(harness: Harness) -> None:
    harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    seconds = (await harness.introspect(OPAQUE)).json()
    millis = (await harness.introspect(OPAQUE, path="/oauth2/introspect/jairsjunior-ms")).json()
    assert type(millis["exp"]) is int
    assert type(millis["iat"]) is int
    assert millis["exp"] == seconds["exp"] * 1000
    assert millis["iat"] == seconds["iat"] * 1000
    assert {k: v for k, v in millis.items() if k not in ("exp", "iat")} == {
        k: v for k, v in seconds.items() if k not in ("exp", "iat")
    }


async def test_milliseconds_path_inactive_is_unchanged(harness: Harness) -> None:
    harness.router.post(UPSTREAM_URL).respond(200, json={"active": False})
    response = await harness.introspect(OPAQUE, path="/oauth2/introspect/jairsjunior-ms")
    assert response.content == b'{"active":false}'


# --- anonymous, bearer callers ----------------------------------------------------------


async def test_anonymous_callers_when_explicitly_allowed(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    settings = make_settings(callers=None, allow_anonymous=True, jwks_url=None)
    async with running(settings, router, clock) as h:
        response = await h.client.post("/oauth2/introspect", content=b"token=" + OPAQUE.encode())
        assert response.json()["active"] is True
        # Presented but wrong credentials are still refused.
        wrong = await h.introspect(OPAQUE, authorization=basic("x", "y"))
        assert wrong.status_code == 401


async def test_static_bearer_caller(router: respx.MockRouter, clock: FakeClock) -> None:
    from oauthbearer._secret import Secret

    router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    settings = make_settings(
        caller_bearer_tokens=Secret("strimzi:fake-static-bearer"), jwks_url=None
    )
    async with running(settings, router, clock) as h:
        ok = await h.introspect(OPAQUE, authorization="Bearer fake-static-bearer")
        assert ok.json()["active"] is True
        bad = await h.introspect(OPAQUE, authorization="Bearer fake-static-bearex")
        assert bad.status_code == 401
        assert bad.headers["WWW-Authenticate"] == 'Bearer realm="oauthbearer-introspection"'


# --- status codes never used, methods, other routes -------------------------------------


async def test_get_on_introspect_is_405_and_never_2xx(harness: Harness) -> None:
    response = await harness.client.get("/oauth2/introspect")
    assert response.status_code == 405


@pytest.mark.parametrize("rotated_to", ["", "Basic bäd"])
async def test_an_unreadable_upstream_authorization_file_is_503_and_not_ready(
    router: respx.MockRouter, clock: FakeClock, tmp_path: Path, rotated_to: str
) -> None:
    # Re-read on every call: a rotation that truncates first, or text no header carries,
    # was a 500 with no Retry-After while /readyz still said the upstream was fine.
    secret = tmp_path / "introspect-authorization"
    secret.write_text(UPSTREAM_AUTHORIZATION)
    router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    router.get(JWKS_URL).respond(200, json={"keys": []})
    settings = make_settings(upstream_authorization=FileSecret(secret))
    async with running(settings, router, clock) as h:
        assert (await h.introspect(OPAQUE)).json()["active"] is True
        secret.write_text(rotated_to)
        os.utime(secret, (NOW + 60, NOW + 60))  # a new mtime, whatever the file system's tick
        response = await h.introspect("another" + OPAQUE)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        ready = await h.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["upstream"] is False
        metrics = (await h.client.get("/metrics")).text
        # The request's failed call, and /readyz's own look at the upstream.
        assert 'oauthbearer_sidecar_upstream_errors_total{reason="config"} 2.0' in metrics


async def test_a_key_set_without_keys_is_not_ready(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    router.get(JWKS_URL).respond(200, json={"keys": []})  # loaded, but verifies nothing
    router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    async with running(make_settings(), router, clock) as h:
        await h.sidecar.jwks.refresh()
        assert h.sidecar.jwks.loaded
        ready = await h.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"jwks": False, "upstream": True}


async def test_healthz_readyz_metrics_openapi(harness: Harness) -> None:
    harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    await harness.introspect(OPAQUE)
    await harness.introspect(OPAQUE)
    assert (await harness.client.get("/healthz")).json() == {"status": "ok"}
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"jwks": True, "upstream": True}
    metrics = (await harness.client.get("/metrics")).text
    assert 'oauthbearer_sidecar_requests_total{result="active",source="upstream"} 1.0' in metrics
    assert 'oauthbearer_sidecar_requests_total{result="active",source="cache"} 1.0' in metrics
    assert "oauthbearer_sidecar_cache_hit_ratio 0.5" in metrics
    assert 'oauthbearer_sidecar_cache_entries{kind="active"} 1.0' in metrics
    assert 'oauthbearer_sidecar_cache_entries{kind="inactive"} 0.0' in metrics
    assert "oauthbearer_sidecar_upstream_latency_seconds_count 1.0" in metrics
    assert 'oauthbearer_sidecar_jwks_refreshes_total{result="ok"} 1.0' in metrics
    doc = (await harness.client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/oauth2/introspect",
        "/oauth2/introspect/jairsjunior-ms",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    }


async def test_readyz_reports_failing_upstream_and_its_recovery(harness: Harness) -> None:
    route = harness.router.post(UPSTREAM_URL).mock(side_effect=httpx.ConnectError("down"))
    await harness.introspect(OPAQUE)
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["upstream"] is False
    # An unready pod receives no traffic: /readyz itself re-probes the upstream.
    route.mock(side_effect=None, return_value=httpx.Response(200, json={"active": False}))
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 200


async def test_readyz_probes_an_upstream_never_reached_and_says_not_ready(harness: Harness) -> None:
    # At start no broker has asked yet: "ready" must mean reached, not "never tried".
    route = harness.router.post(UPSTREAM_URL).mock(side_effect=httpx.ConnectError("down"))
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["upstream"] is False
    assert route.call_count == 1  # /readyz probed it itself


async def test_unexpected_error_is_500_without_trace(harness: Harness) -> None:
    harness.router.post(UPSTREAM_URL).mock(side_effect=RuntimeError("secret internals"))
    response = await harness.introspect(OPAQUE)
    assert response.status_code == 500
    assert response.json() == {"error": "server_error"}
    assert "Traceback" not in response.text
    assert "internals" not in response.text


# --- nothing secret in logs or metrics --------------------------------------------------


async def test_no_token_or_secret_in_logs_or_metrics(
    harness: Harness, rsa_key: RSAKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    harness.router.post(UPSTREAM_URL).mock(
        side_effect=[httpx.Response(200, json=UPSTREAM_ACTIVE), httpx.ConnectError("down")]
    )
    jwt_token = sign(rsa_key)
    await harness.introspect(OPAQUE)
    await harness.introspect(OPAQUE)
    await harness.introspect(jwt_token)
    await harness.introspect("other-opaque-token")  # 503
    await harness.introspect(OPAQUE, authorization=basic(CALLER_ID, "wrong-secret"))
    metrics = (await harness.client.get("/metrics")).text

    from oauthbearer.sidecar.log_lines import JsonFormatter

    formatter = JsonFormatter()
    text = "\n".join(formatter.format(r) for r in caplog.records) + metrics
    for secret in (
        OPAQUE,
        jwt_token,
        jwt_token.split(".")[2],
        "other-opaque-token",
        CALLER_SECRET,
        "wrong-secret",
        UPSTREAM_AUTHORIZATION,
        UPSTREAM_AUTHORIZATION.split()[1],
        basic(CALLER_ID, CALLER_SECRET).split()[1],
    ):
        assert secret not in text

    decisions = [
        json.loads(formatter.format(r)) for r in caplog.records if r.name.endswith("decision")
    ]
    # Fresh decisions line by line; the cache hit is counted for the next summary line.
    assert [d["source"] for d in decisions[:2]] == ["upstream", "jwks"]
    first = decisions[0]
    assert first["caller"] == CALLER_ID
    assert first["result"] == "active"
    assert first["sub"] == "orders-service"
    assert first["token"].startswith("sha256:")
    assert isinstance(first["latency_ms"], float)
    assert decisions[2]["result"] == "unavailable"
    assert decisions[3]["result"] == "unauthorized"
    assert harness.sidecar.decisions.pending() == {(CALLER_ID, "orders-service", "active"): 1}


HUGE = 10**400  # an integer no float can hold (JSON allows it; the standard library reads it)


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
async def test_a_jwt_date_beyond_any_float_is_inactive_not_a_500(
    harness: Harness, rsa_key: RSAKey, claim: str
) -> None:
    token = sign(rsa_key, {claim: HUGE})
    response = await harness.introspect(token)
    assert (response.status_code, response.content) == (200, b'{"active":false}')


@pytest.mark.parametrize("claim", ["exp", "nbf"])
async def test_an_upstream_date_beyond_any_float_is_inactive_not_a_500(
    harness: Harness, claim: str
) -> None:
    answer = {"active": True, "sub": "x", "exp": int(NOW) + 60, claim: HUGE}
    harness.router.post(UPSTREAM_URL).respond(200, json=answer)
    response = await harness.introspect(OPAQUE)
    assert (response.status_code, response.content) == (200, b'{"active":false}')


async def test_an_upstream_iat_beyond_any_float_is_replaced_like_a_missing_one(
    harness: Harness,
) -> None:
    # iat is informational in an upstream answer: one that is no usable number is
    # synthesised as the time the question was asked, as when it is missing.
    answer = {"active": True, "sub": "x", "exp": int(NOW) + 60, "iat": HUGE}
    harness.router.post(UPSTREAM_URL).respond(200, json=answer)
    response = await harness.introspect(OPAQUE)
    assert response.json() == {"active": True, "sub": "x", "exp": int(NOW) + 60, "iat": int(NOW)}


@pytest.mark.parametrize("crit", [1, None, True, [1], 1.5])
async def test_a_forged_header_with_a_crit_that_is_no_list_is_inactive(
    harness: Harness, crit: object
) -> None:
    # Anyone can write a header: before the key, the signature or anything else is
    # judged, joserfc iterated it (TypeError), and every such request was a 500.
    token = unsigned_jwt({"alg": "RS256", "kid": "k1", "crit": crit}, {}, b"sig")
    response = await harness.introspect(token)
    assert (response.status_code, response.content) == (200, b'{"active":false}')


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [300, 900])
async def test_a_signed_jwt_nested_too_deep_to_answer_is_inactive(
    harness: Harness, rsa_key: RSAKey, depth: int
) -> None:
    # orjson writes 254 levels; the standard encoder's limit depended on the stack (200
    # on the HTTP protocol's path, 500 on the ASGI path at one depth).
    token = sign(rsa_key, {"x": _nested(depth)})
    response = await harness.introspect(token)
    assert (response.status_code, response.content) == (200, b'{"active":false}')


@pytest.mark.parametrize(
    "body",
    [
        b'{"active":true,"sub":"\\ud800","exp":%d}',  # a lone surrogate: was a 500
        b'{"active":true,"sub":"x","exp":%d,"n":NaN}',  # not JSON (was passed on as null)
        b'{"active":true,"sub":"x","exp":%d,"n":1e400}',
    ],
)
async def test_an_upstream_answer_that_is_not_rfc_8259_json_is_unavailable(
    harness: Harness, body: bytes
) -> None:
    harness.router.post(UPSTREAM_URL).respond(200, content=body % (int(NOW) + 60))
    response = await harness.introspect(OPAQUE)
    assert response.status_code == 503


async def test_an_upstream_answer_over_a_mebibyte_is_unavailable(harness: Harness) -> None:
    padding = "x" * (1 << 20)
    answer = {"active": True, "sub": "x", "exp": int(NOW) + 60, "padding": padding}
    harness.router.post(UPSTREAM_URL).respond(200, json=answer)
    response = await harness.introspect(OPAQUE)
    assert response.status_code == 503


async def test_upstream_and_jwks_are_asked_for_uncompressed_answers(
    harness: Harness, rsa_key: RSAKey
) -> None:
    route = harness.router.post(UPSTREAM_URL).respond(200, json=UPSTREAM_ACTIVE)
    assert (await harness.introspect(OPAQUE)).json()["active"] is True
    assert route.calls.last.request.headers["accept-encoding"] == "identity"
    jwks = [c.request for c in harness.router.calls if c.request.url == JWKS_URL]
    assert jwks
    assert jwks[-1].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("padding", [0, 8 << 20])
async def test_a_compressed_upstream_answer_is_unavailable_not_inflated(
    harness: Harness, padding: int
) -> None:
    # httpx decoded before the 1 MiB bound counted: 200 KB of gzip became 200 MiB. We ask
    # for none (Accept-Encoding: identity), so a compressed answer, small or not, is a
    # server not doing as asked: refused unread.
    answer = {**UPSTREAM_ACTIVE, "pad": "0" * padding}
    bomb = gzip.compress(json.dumps(answer).encode())
    assert len(bomb) < (1 << 20)
    harness.router.post(UPSTREAM_URL).respond(
        200, content=bomb, headers={"content-encoding": "gzip", "content-type": "application/json"}
    )
    response = await harness.introspect(OPAQUE)
    assert response.status_code == 503


async def test_the_milliseconds_path_answers_no_date_past_a_java_long(
    harness: Harness, rsa_key: RSAKey
) -> None:
    token = sign(rsa_key, {"exp": 9_300_000_000_000_000})  # a long in s, not in ms
    seconds = await harness.introspect(token)
    assert seconds.json()["exp"] == 9_300_000_000_000_000
    millis = await harness.introspect(token, path="/oauth2/introspect/jairsjunior-ms")
    assert (millis.status_code, millis.content) == (200, b'{"active":false}')
