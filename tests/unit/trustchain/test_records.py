"""verify_record: signature, issuer, audience always; expiry at the record's time + grace."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from aiokafka.structs import ConsumerRecord
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    Message,
)
from joserfc import jwt
from joserfc.jwk import RSAKey

from oauthbearer.errors import ConfigurationError, TokenMissing, TokenRejected, UpstreamUnavailable
from oauthbearer.trustchain.blocking import BlockingVerifier
from oauthbearer.trustchain.claims import VerifiedClaims
from oauthbearer.trustchain.headers import attach_token
from oauthbearer.trustchain.middleware import BearerTokenMiddleware
from oauthbearer.trustchain.records import (
    KafkaRecord,
    as_record,
    verify_record,
    verify_record_async,
)
from oauthbearer.trustchain.verifiers import IntrospectionVerifier, JwksVerifier
from tests.unit.trustchain.conftest import (
    AUDIENCE,
    ISSUER,
    JWKS_URL,
    NOW,
    FakeClock,
    JwksServer,
    Signer,
)

pytestmark = pytest.mark.trustchain

HOUR = 3600.0


def record(token: str, *, at: float = NOW, by_broker: bool = True) -> KafkaRecord:
    """A record carrying ``token``, stamped at ``at`` by the broker (LogAppendTime) or,
    with ``by_broker=False``, by its producer (CreateTime)."""
    return KafkaRecord(attach_token(None, token), int(at * 1000), log_append_time=by_broker)


def test_valid_token_gives_its_claims_and_keeps_the_token_unshown(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    token = sign()
    claims = verify_record(record(token), blocking, clock=clock)
    assert isinstance(claims, VerifiedClaims)
    assert claims["sub"] == "alice"
    assert claims.token == token
    assert token not in repr(claims)


def test_tampered_signature_is_refused(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    header, _payload, signature = sign().split(".")
    forged_payload = sign(sub="mallory").split(".")[1]
    with pytest.raises(TokenRejected) as info:
        verify_record(record(f"{header}.{forged_payload}.{signature}"), blocking, clock=clock)
    assert info.value.reason == "signature"


def test_token_signed_by_another_key_is_refused(
    sign: Signer, other_key: RSAKey, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    with pytest.raises(TokenRejected) as info:
        verify_record(record(sign(signer=other_key)), blocking, clock=clock)
    assert info.value.reason == "signature"


def test_wrong_audience_and_wrong_issuer_are_refused(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    with pytest.raises(TokenRejected) as aud:
        verify_record(record(sign(aud="urn:payments")), blocking, clock=clock)
    with pytest.raises(TokenRejected) as iss:
        verify_record(record(sign(iss="https://evil.example")), blocking, clock=clock)
    assert (aud.value.reason, iss.value.reason) == ("audience", "issuer")
    assert "audience mismatch" in str(aud.value)


def test_missing_header_is_a_clear_error(blocking: BlockingVerifier, clock: FakeClock) -> None:
    with pytest.raises(TokenMissing, match="record header 'oauthbearer-token': missing"):
        verify_record(KafkaRecord([("other", b"x")], int(NOW * 1000)), blocking, clock=clock)


def test_expiry_is_judged_at_the_record_timestamp_plus_grace(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    token = sign(exp_in=300)  # expires at NOW + 300
    clock.advance(6 * HOUR)  # consumed six hours later

    # Produced while the token was valid: accepted, however late it is consumed.
    assert verify_record(record(token, at=NOW + 60), blocking, clock=clock)["sub"] == "alice"
    # Produced 10 minutes after expiry: within a 15-minute grace, beyond a 5-minute one.
    late = record(token, at=NOW + 300 + 600)
    assert verify_record(late, blocking, clock=clock, grace=900)["sub"] == "alice"
    with pytest.raises(TokenRejected) as info:
        verify_record(late, blocking, clock=clock, grace=300)
    assert info.value.reason == "expired"
    assert "record's timestamp" in str(info.value)
    # And judged at now, the same record is refused even with the larger grace.
    with pytest.raises(TokenRejected, match="before now"):
        verify_record(late, blocking, clock=clock, grace=900, judge_at="now")


def test_a_back_dated_create_time_record_does_not_revive_an_expired_token(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    """Anyone who may produce to the topic chooses a CreateTime: a token that expired a
    year ago, in a record stamped inside its lifetime, must not pass by default."""
    token = sign(exp_in=300)
    clock.advance(365 * 24 * HOUR)
    back_dated = record(token, at=NOW + 60, by_broker=False)
    with pytest.raises(TokenRejected) as info:
        verify_record(back_dated, blocking, clock=clock, grace=900)
    assert info.value.reason == "expired"
    assert "CreateTime is its producer's to choose" in str(info.value)
    # The same timestamp set by the broker is a fact about when the event was written.
    assert verify_record(record(token, at=NOW + 60), blocking, clock=clock)["sub"] == "alice"
    # A caller that vouches for its producers may judge at their timestamp...
    trusted = verify_record(back_dated, blocking, clock=clock, trust_create_time=True)
    assert trusted["sub"] == "alice"
    # ...and max_age bounds how far back a producer's timestamp may reach.
    with pytest.raises(TokenRejected) as too_old:
        verify_record(back_dated, blocking, clock=clock, max_age=HOUR)
    assert too_old.value.reason == "too_old"


def test_a_token_issued_after_its_records_timestamp_is_not_from_the_future(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    """Kafka Streams and MirrorMaker keep an input record's timestamp, and event-time
    producers set their own: a token valid now, issued after the record's time, passes
    (nbf and iat are judged at now; the record's time counts for exp alone)."""
    token = sign(iat=NOW - 60, exp_in=240)
    assert verify_record(record(token, at=NOW - 600), blocking, clock=clock)["sub"] == "alice"


def test_the_verifiers_own_clock_skew_holds_unless_one_is_given(
    sign: Signer, jwks: JwksServer, clock: FakeClock
) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(jwks))
    strict = JwksVerifier(
        JWKS_URL, issuer=ISSUER, audiences=AUDIENCE, client=client, clock=clock, clock_skew=0.0
    )
    with BlockingVerifier(strict) as verifier:
        token = sign(exp_in=300)
        clock.advance(320)  # 20 s past exp
        late = record(token, at=NOW + 320)
        with pytest.raises(TokenRejected) as info:
            verify_record(late, verifier, clock=clock)
        assert info.value.reason == "expired"
        assert verify_record(late, verifier, clock=clock, clock_skew=30.0)["sub"] == "alice"


def test_grace_stretches_exp_only_never_nbf_or_iat(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    # A token whose nbf/iat lie 10 minutes after the record was produced is not made
    # acceptable by a 15-minute grace: grace is about late consumption of an expiring
    # token, not about tokens from the future (clock skew, 30 s, is all they get).
    not_yet = record(sign(nbf=int(NOW + 600)))
    issued_later = record(sign(iat=NOW + 600, exp_in=3600))
    for early in (not_yet, issued_later):
        with pytest.raises(TokenRejected) as info:
            verify_record(early, blocking, clock=clock, grace=900)
        assert info.value.reason == "not_yet_valid"
    # Within the clock skew they pass, grace or not.
    assert verify_record(record(sign(nbf=int(NOW + 20))), blocking, clock=clock)["sub"] == "alice"


def test_the_reason_comes_from_the_check_not_from_words_in_the_token(
    key: RSAKey, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    # The kid is the token's own text; "expired" in it must not make the reason "expired".
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "iat": int(NOW), "exp": int(NOW) + 60}
    token = jwt.encode({"alg": "RS256", "kid": "expired-and-issuer-audience"}, claims, key)
    with pytest.raises(TokenRejected) as info:
        verify_record(record(token), blocking, clock=clock)
    assert info.value.reason == "signature"  # no such key in the JWKS


def test_record_without_timestamp_is_judged_at_now_never_skipped(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    token = sign(exp_in=300)
    clock.advance(HOUR)
    with pytest.raises(TokenRejected) as info:
        verify_record(KafkaRecord(attach_token(None, token), None), blocking, clock=clock)
    assert info.value.reason == "expired"


def test_record_stamped_in_the_future_gains_no_lifetime(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    token = sign(exp_in=300)
    clock.advance(HOUR)  # token long expired at now
    with pytest.raises(TokenRejected, match="expired"):
        verify_record(record(token, at=NOW + 10 * HOUR), blocking, clock=clock)


def test_max_age_bounds_how_old_a_record_may_be(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    token = sign()
    clock.advance(2 * HOUR)
    with pytest.raises(TokenRejected) as info:
        verify_record(record(token), blocking, clock=clock, max_age=HOUR)
    assert info.value.reason == "too_old"
    assert verify_record(record(token), blocking, clock=clock, max_age=3 * HOUR)


def test_confluent_message_and_aiokafka_record_shapes(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    token = sign()
    headers = attach_token([("k", b"v")], token)
    message = Message(
        topic="t", headers=headers, timestamp=(TIMESTAMP_CREATE_TIME, int(NOW * 1000))
    )
    consumer_record = ConsumerRecord("t", 0, 0, int(NOW * 1000), 0, None, b"v", None, 0, 1, headers)
    for item in (message, consumer_record, (headers, int(NOW * 1000))):
        assert verify_record(item, blocking, clock=clock)["sub"] == "alice"
        assert as_record(item).log_append_time is False  # CreateTime: the producer's
    by_broker = Message(
        topic="t", headers=headers, timestamp=(TIMESTAMP_LOG_APPEND_TIME, int(NOW * 1000))
    )
    stamped = ConsumerRecord("t", 0, 0, int(NOW * 1000), 1, None, b"v", None, 0, 1, headers)
    assert as_record(by_broker).log_append_time is True
    assert as_record(stamped).log_append_time is True
    no_time = Message(topic="t", headers=headers, timestamp=(TIMESTAMP_NOT_AVAILABLE, 0))
    assert as_record(no_time).timestamp is None
    with pytest.raises(TypeError, match="not a Kafka record"):
        as_record(42)


def test_jwks_is_fetched_once_then_refreshed_lazily(
    sign: Signer, jwks: JwksServer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    for _ in range(5):
        verify_record(record(sign()), blocking, clock=clock, judge_at="now")
    assert jwks.fetches == 1
    clock.advance(301)
    jwks.status = 503  # a failed periodic refresh keeps the keys
    verify_record(record(sign(iat=clock.now)), blocking, clock=clock, judge_at="now")
    assert jwks.fetches == 2


def test_no_keys_at_all_is_unavailable_not_rejected(
    sign: Signer, jwks: JwksServer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    jwks.status = 503
    with pytest.raises(UpstreamUnavailable):
        verify_record(record(sign()), blocking, clock=clock)


def test_opaque_token_is_malformed_for_the_jwks_verifier(
    blocking: BlockingVerifier, clock: FakeClock
) -> None:
    with pytest.raises(TokenRejected) as info:
        verify_record(record("opaque-token"), blocking, clock=clock)
    assert info.value.reason == "malformed"


def test_issuer_and_audience_are_required() -> None:
    with pytest.raises(ConfigurationError, match="issuer"):
        JwksVerifier(JWKS_URL, issuer="", audiences=AUDIENCE)
    with pytest.raises(ConfigurationError, match="audiences"):
        JwksVerifier(JWKS_URL, issuer=ISSUER, audiences=())


async def test_async_variant(sign: Signer, verifier: JwksVerifier, clock: FakeClock) -> None:
    claims = await verify_record_async(record(sign()), verifier, clock=clock)
    assert claims["aud"] == AUDIENCE
    with pytest.raises(TokenRejected, match="audience"):
        await verify_record_async(record(sign(aud="urn:x")), verifier, clock=clock)


# --- introspection ---------------------------------------------------------------------
INTROSPECT_URL = "https://sidecar.example/introspect"


@respx.mock
async def test_introspection_verifier_checks_active_issuer_and_audience(clock: FakeClock) -> None:
    answers = {
        "good": {"active": True, "iss": ISSUER, "aud": [AUDIENCE], "sub": "bob", "exp": NOW + 60},
        "inactive": {"active": False},
        "noaud": {"active": True, "iss": ISSUER, "sub": "bob", "exp": NOW + 60},
        "otheraud": {"active": True, "iss": ISSUER, "aud": "urn:x", "exp": NOW + 60},
        "otheriss": {"active": True, "iss": "https://x", "aud": AUDIENCE, "exp": NOW + 60},
        # An exp no float can hold (once an OverflowError) is no exp: as if it were missing.
        "hugeexp": {"active": True, "iss": ISSUER, "aud": AUDIENCE, "sub": "eve", "exp": 10**400},
    }

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Basic ZmFrZTpmYWtl"
        token = request.content.decode().removeprefix("token=")
        return httpx.Response(200, json=answers[token])

    respx.post(INTROSPECT_URL).mock(side_effect=answer)
    verifier = IntrospectionVerifier(
        INTROSPECT_URL,
        issuer=ISSUER,
        audiences=AUDIENCE,
        authorization="Basic ZmFrZTpmYWtl",
        clock=clock,
    )
    try:
        claims = await verify_record_async(record("good"), verifier, clock=clock)
        assert claims["sub"] == "bob"
        assert "active" not in claims
        assert (await verify_record_async(record("hugeexp"), verifier, clock=clock))["sub"] == "eve"
        reasons = {}
        for token in ("inactive", "noaud", "otheraud", "otheriss"):
            with pytest.raises(TokenRejected) as info:
                await verify_record_async(record(token), verifier, clock=clock)
            reasons[token] = (info.value.reason, info.value.detail)
        assert reasons["inactive"][0] == "inactive"
        assert reasons["noaud"] == ("audience", "answer has no aud to check")
        assert reasons["otheraud"] == ("audience", "audience mismatch")
        assert reasons["otheriss"] == ("issuer", "issuer mismatch")
    finally:
        await verifier.aclose()


@respx.mock
async def test_introspection_endpoint_down_is_unavailable(clock: FakeClock) -> None:
    respx.post(INTROSPECT_URL).mock(return_value=httpx.Response(500))
    verifier = IntrospectionVerifier(INTROSPECT_URL, issuer=ISSUER, audiences=AUDIENCE)
    try:
        with pytest.raises(UpstreamUnavailable):
            await verify_record_async(record("tok"), verifier, clock=clock)
    finally:
        await verifier.aclose()


def test_blocking_verifier_reuses_one_loop_across_threads(
    sign: Signer, blocking: BlockingVerifier, clock: FakeClock
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    token = sign()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: blocking.verify(token, at=NOW)["sub"], range(20)))
    assert results == ["alice"] * 20


@pytest.mark.parametrize(
    "bounds",
    [
        {"grace": float("nan")},
        {"grace": float("inf")},
        {"max_age": float("nan")},
        {"judge_at": "NOW"},
    ],
)
def test_bounds_that_would_skip_expiry_are_refused(bounds: dict[str, Any]) -> None:
    from oauthbearer.trustchain.records import _judgement

    record = KafkaRecord([], timestamp_ms=1_000)
    options: dict[str, Any] = {
        "grace": 0.0,
        "judge_at": "record",
        "max_age": None,
        "trust_create_time": False,
        "clock": lambda: 2.0,
        "clock_skew": 30.0,
        **bounds,
    }
    with pytest.raises(ValueError, match="must be"):
        _judgement(record, **options)


def test_a_records_repr_names_its_headers_never_their_values() -> None:
    record = KafkaRecord([("oauthbearer-token", b"eyJ.fake-payload.sig")], timestamp_ms=5)
    assert "fake-payload" not in repr(record)
    assert "oauthbearer-token" in repr(record)


@pytest.mark.parametrize("skew", [float("nan"), float("inf"), -1.0])
def test_a_clock_skew_or_leeway_that_is_no_tolerance_is_refused(skew: float) -> None:
    # NaN made "now >= exp + skew" never true: an expired token (and a future nbf) passed.
    with pytest.raises(ValueError, match="clock_skew"):
        JwksVerifier(JWKS_URL, issuer=ISSUER, audiences=AUDIENCE, clock_skew=skew)
    with pytest.raises(ValueError, match="clock_skew"):
        IntrospectionVerifier(INTROSPECT_URL, issuer=ISSUER, audiences=AUDIENCE, clock_skew=skew)
    with pytest.raises(ValueError, match="leeway"):
        BearerTokenMiddleware(
            _no_app,
            verifier=JwksVerifier(JWKS_URL, issuer=ISSUER, audiences=AUDIENCE),
            leeway=skew,
        )


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app the middleware is never built around (the test stops before)."""
