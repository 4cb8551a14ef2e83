"""Local JWT verification: the attacks it must refuse and the JWKS life cycle it must follow."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from joserfc.jwk import ECKey, RSAKey

from oauthbearer.errors import UpstreamUnavailable
from oauthbearer.verify.jwks import JwksStore
from oauthbearer.verify.jwt_validator import InvalidJwt, JwtValidator
from tests.unit.sidecar.conftest import (
    AUDIENCE,
    ISSUER,
    JWKS_URL,
    NOW,
    FakeClock,
    b64url,
    jwks_of,
    sign,
    unsigned_jwt,
)


class Setup:
    def __init__(self, router: respx.MockRouter, clock: FakeClock, client: httpx.AsyncClient):
        self.router = router
        self.clock = clock
        self.store = JwksStore(
            JWKS_URL, client=client, clock=clock, refresh_interval=300, min_refetch_interval=10
        )
        self.validator = self.make()

    def make(self, **overrides: object) -> JwtValidator:
        options: dict[str, object] = {
            "algorithms": ("RS256", "ES256"),
            "clock": self.clock,
            "issuer": ISSUER,
            "audiences": (AUDIENCE,),
            "clock_skew": 30.0,
        }
        options.update(overrides)
        return JwtValidator(self.store, **options)  # type: ignore[arg-type]


@pytest.fixture
async def setup(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey, ec_key: ECKey
) -> AsyncIterator[Setup]:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key, ec_key))
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        yield Setup(router, clock, client)


async def test_valid_rs256_and_es256(setup: Setup, rsa_key: RSAKey, ec_key: ECKey) -> None:
    claims = await setup.validator.verify(sign(rsa_key))
    assert claims["sub"] == "orders-service"
    claims = await setup.validator.verify(sign(ec_key, alg="ES256"))
    assert claims["aud"] == AUDIENCE


async def test_audience_array_accepted(setup: Setup, rsa_key: RSAKey) -> None:
    await setup.validator.verify(sign(rsa_key, {"aud": ["urn:x", AUDIENCE]}))


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(NOW) - 31}, "expired"),
        ({"exp": None}, "exp"),
        ({"exp": "tomorrow"}, "exp"),
        ({"nbf": int(NOW) + 31}, "nbf"),
        ({"iat": int(NOW) + 31}, "iat"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"iss": None}, "issuer"),
        ({"aud": "urn:other"}, "audience"),
        ({"aud": None}, "audience"),
        # The JSON types are judged by a fast path first; everything else must still fail.
        ({"exp": True}, "exp"),
        ({"exp": [int(NOW) + 300]}, "exp"),
        ({"nbf": True}, "nbf"),
        ({"iat": "now"}, "iat"),
        ({"aud": ["urn:other", 7, None]}, "audience"),
        ({"aud": {"urn:kafka": True}}, "audience"),
        ({"aud": 7}, "audience"),
    ],
)
async def test_bad_claims_rejected(
    setup: Setup, rsa_key: RSAKey, claims: dict[str, object], reason: str
) -> None:
    with pytest.raises(InvalidJwt, match=reason):
        await setup.validator.verify(sign(rsa_key, claims))


async def test_clock_skew_tolerated(setup: Setup, rsa_key: RSAKey) -> None:
    token = sign(rsa_key, {"exp": int(NOW) - 29, "nbf": int(NOW) + 29, "iat": int(NOW) + 29})
    await setup.validator.verify(token)


async def test_expiry_follows_the_fake_clock(setup: Setup, rsa_key: RSAKey) -> None:
    token = sign(rsa_key)  # exp = NOW + 300
    await setup.validator.verify(token)
    setup.clock.advance(300 + 30)
    with pytest.raises(InvalidJwt, match="expired"):
        await setup.validator.verify(token)


async def test_alg_none_rejected(setup: Setup) -> None:
    token = unsigned_jwt(
        {"alg": "none", "kid": "k1"},
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60},
    )
    with pytest.raises(InvalidJwt, match="alg"):
        await setup.validator.verify(token)


async def test_hmac_with_the_public_key_rejected(setup: Setup, rsa_key: RSAKey) -> None:
    # The classic confusion: sign HS256 using the server's public key as the HMAC secret.
    public_pem = rsa_key.as_pem(private=False)
    header = b64url(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = b64url(
        json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60}).encode()
    )
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidJwt, match="alg"):
        await setup.validator.verify(f"{header}.{payload}.{b64url(mac)}")
    # Even if an operator could list HS256, our key set holds no "oct" key to use.
    permissive = setup.make(algorithms=("RS256", "HS256"))
    with pytest.raises(InvalidJwt):
        await permissive.verify(f"{header}.{payload}.{b64url(mac)}")


async def test_wrong_algorithm_for_key_type_rejected(setup: Setup, ec_key: ECKey) -> None:
    # An EC key cannot verify an RS256 signature: no candidate key.
    forged = unsigned_jwt({"alg": "RS256", "kid": ec_key.kid}, {"exp": int(NOW) + 60}, b"sig")
    with pytest.raises(InvalidJwt, match="no key"):
        await setup.validator.verify(forged)


async def test_signature_by_another_key_rejected(setup: Setup) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "k1"})  # same kid, other key
    with pytest.raises(InvalidJwt, match="signature"):
        await setup.validator.verify(sign(attacker))


@pytest.mark.parametrize("header", ["jku", "x5u"])
async def test_jku_and_x5u_are_never_followed(
    setup: Setup, router: respx.MockRouter, header: str
) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "evil"})
    evil_url = "https://evil.example/keys"
    evil_route = router.get(evil_url).respond(200, json=jwks_of(attacker))
    token = sign(attacker, header={header: evil_url})
    with pytest.raises(InvalidJwt):
        await setup.validator.verify(token)
    assert evil_route.call_count == 0


async def test_embedded_jwk_is_not_trusted(setup: Setup) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    token = sign(attacker, header={"jwk": attacker.as_dict(private=False)})
    with pytest.raises(InvalidJwt):
        await setup.validator.verify(token)


async def test_typ_checked_when_configured(setup: Setup, rsa_key: RSAKey) -> None:
    strict = setup.make(typ="at+jwt")
    await strict.verify(sign(rsa_key, header={"typ": "at+jwt"}))
    await strict.verify(sign(rsa_key, header={"typ": "application/at+JWT"}))
    with pytest.raises(InvalidJwt, match="typ"):
        await strict.verify(sign(rsa_key, header={"typ": "JWT"}))


def sign_by_hand(key: RSAKey, header: dict[str, Any], payload: bytes) -> str:
    """A compact RS256 JWS of exactly this header and payload, signed without joserfc
    (which refuses to produce some of the tokens these tests need)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    private = key.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


async def test_crit_header_not_understood_is_rejected(setup: Setup, rsa_key: RSAKey) -> None:
    # RFC 7515 §4.1.11: a critical extension we do not understand makes the JWS invalid.
    header = {"alg": "RS256", "kid": "k1", "crit": ["x-must-understand"], "x-must-understand": 1}
    claims = json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60})
    token = sign_by_hand(rsa_key, header, claims.encode())
    without_crit = {k: v for k, v in header.items() if k != "crit"}
    plain = sign_by_hand(rsa_key, without_crit, claims.encode())
    await setup.validator.verify(plain)  # the same token without crit verifies
    with pytest.raises(InvalidJwt):
        await setup.validator.verify(token)


def _respell_last_char(segment: str) -> str:
    """The same bytes with non-canonical trailing bits: lenient decoders accept it."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(segment) % 4 in (2, 3)  # there are unused bits to flip
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) ^ 1]


async def test_one_token_has_one_spelling(setup: Setup, rsa_key: RSAKey) -> None:
    # Every cache key is a hash of the token text: a second spelling of a verified token
    # (padding, stray characters, other trailing bits) must not verify as well.
    token = sign(rsa_key)
    await setup.validator.verify(token)
    header, payload, signature = token.split(".")
    variants = [
        f"{header}.{payload}.{signature}==",
        f"{header}.{payload}.{signature[:10]}\n{signature[10:]}",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}.{signature.replace('-', '+').replace('_', '/')}",
    ]
    if len(signature) % 4 in (2, 3):
        variants.append(f"{header}.{payload}.{_respell_last_char(signature)}")
    if len(payload) % 4 in (2, 3):
        variants.append(f"{header}.{_respell_last_char(payload)}.{signature}")
    for variant in variants:
        assert variant != token
        with pytest.raises(InvalidJwt):
            await setup.validator.verify(variant)


@pytest.mark.parametrize(
    ("header", "payload", "reason"),
    [
        ({"alg": "RS256", "kid": "k1", "b64": False, "crit": ["b64"]}, None, "b64"),
        ({"alg": "RS256", "kid": "k1"}, b"[1, 2]", "payload is not a JSON object"),
        ({"alg": "RS256", "kid": "k1"}, b"\xff\xfe{}", "payload is not a JSON object"),
        ({"alg": "RS256", "kid": "k1", "kid2": 1, "crit": "kid2"}, None, "crit"),
        # Not an array of names: joserfc iterated them (TypeError, a 500), before any key.
        ({"alg": "RS256", "kid": "k1", "crit": 1}, None, "crit"),
        ({"alg": "RS256", "kid": "k1", "crit": None}, None, "crit"),
        ({"alg": "RS256", "kid": "k1", "crit": True}, None, "crit"),
        ({"alg": "RS256", "kid": "k1", "crit": [1]}, None, "crit"),
        ({"alg": "RS256", "kid": "k1", "crit": 1.5}, None, "crit"),
        ({"alg": "RS256", "kid": "k1", "crit": []}, None, "crit"),
    ],
)
async def test_signed_but_not_a_jwt_we_accept(
    setup: Setup,
    rsa_key: RSAKey,
    header: dict[str, object],
    payload: bytes | None,
    reason: str,
) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60}
    body = payload if payload is not None else json.dumps(claims).encode()
    token = sign_by_hand(rsa_key, header, body)
    with pytest.raises(InvalidJwt, match=reason):
        await setup.validator.verify(token)


async def test_only_three_segments(setup: Setup, rsa_key: RSAKey) -> None:
    token = sign(rsa_key)
    for wrong in (token + ".extra", token.rsplit(".", 1)[0], token.replace(".", "..", 1)):
        with pytest.raises(InvalidJwt):
            await setup.validator.verify(wrong)


async def test_a_key_published_for_encryption_does_not_verify(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    public = rsa_key.as_dict(private=False)
    router.get(JWKS_URL).respond(200, json={"keys": [{**public, "use": "enc"}]})
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        validator = Setup(router, clock, client).validator
        # The store leaves it out; joserfc's key check (use "sig") would refuse it too.
        with pytest.raises(InvalidJwt, match="no key for kid"):
            await validator.verify(sign(rsa_key))


async def test_unknown_kid_triggers_one_bounded_refetch(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, rsa_key2: RSAKey
) -> None:
    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key))
    await setup.validator.verify(sign(rsa_key))
    assert route.call_count == 1
    # The server rotates in k2; the first k2 token makes us refetch and succeed.
    route.respond(200, json=jwks_of(rsa_key, rsa_key2))
    await setup.validator.verify(sign(rsa_key2))
    assert route.call_count == 2
    # A flood of invented kids within the interval costs no further fetch.
    for i in range(20):
        bogus = RSAKey.generate_key(2048, parameters={"kid": f"bogus-{i}"}) if i < 2 else None
        token = sign(bogus) if bogus else unsigned_jwt({"alg": "RS256", "kid": f"x{i}"}, {})
        with pytest.raises(InvalidJwt, match="no key"):
            await setup.validator.verify(token)
    assert route.call_count == 2
    setup.clock.advance(10)
    with pytest.raises(InvalidJwt):
        await setup.validator.verify(unsigned_jwt({"alg": "RS256", "kid": "later"}, {}))
    assert route.call_count == 3


async def test_a_kid_missing_from_a_periodic_fetch_already_in_flight_is_looked_for_again(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, rsa_key2: RSAKey
) -> None:
    """The periodic refresh left before the issuer rotated k2 in; tokens signed with k2
    that arrive meanwhile share that fetch, which cannot bring k2. They were refused (and
    the refusal cached) though the key set one refetch away held it."""
    served: list[dict[str, Any]] = [jwks_of(rsa_key)]
    periodic_left = asyncio.Event()
    release = asyncio.Event()

    async def jwks(request: httpx.Request) -> httpx.Response:
        document = served[0]  # what the server held when this fetch reached it
        periodic_left.set()
        await release.wait()
        return httpx.Response(200, json=document)

    router.get(JWKS_URL).mock(side_effect=jwks)
    release.set()
    await setup.validator.verify(sign(rsa_key))  # keys loaded
    release.clear()
    periodic_left.clear()
    periodic = asyncio.create_task(setup.store.refresh())  # the periodic tick
    await periodic_left.wait()
    served[0] = jwks_of(rsa_key, rsa_key2)  # the issuer rotates k2 in, too late for it
    tokens = [sign(rsa_key2, {"jti": f"k2-{n}"}) for n in range(5)]
    verifying = [asyncio.create_task(setup.validator.verify(t)) for t in tokens]
    await asyncio.sleep(0)  # every token is waiting on the periodic fetch
    release.set()
    await periodic
    claims = await asyncio.gather(*verifying)
    assert [c["jti"] for c in claims] == [f"k2-{n}" for n in range(5)]
    assert router.calls.call_count == 3  # the first load, the tick, one refetch for k2


async def test_removed_key_rejected_after_refresh(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, rsa_key2: RSAKey
) -> None:
    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key, rsa_key2))
    old = sign(rsa_key)
    await setup.validator.verify(old)
    route.respond(200, json=jwks_of(rsa_key2))
    await setup.store.refresh()  # the periodic refresh
    with pytest.raises(InvalidJwt, match="no key"):
        await setup.validator.verify(old)
    await setup.validator.verify(sign(rsa_key2))


async def test_failed_refresh_keeps_previous_keys(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey
) -> None:
    await setup.validator.verify(sign(rsa_key))
    router.get(JWKS_URL).mock(side_effect=httpx.ConnectError("down"))
    with pytest.raises(UpstreamUnavailable):
        await setup.store.refresh()
    await setup.validator.verify(sign(rsa_key))


async def test_a_refresh_listing_no_keys_keeps_the_loaded_ones_for_a_while(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, rsa_key2: RSAKey
) -> None:
    # An identity provider mid-change served an empty set once; replacing the good keys
    # with none refused every JWT until the next refresh.
    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key))
    await setup.validator.verify(sign(rsa_key))
    route.respond(200, json={"keys": []})
    with pytest.raises(UpstreamUnavailable, match="lists no keys; the keys loaded 0 s ago"):
        await setup.store.refresh()
    await setup.validator.verify(sign(rsa_key))
    route.respond(200, json=jwks_of(rsa_key2))  # the issuer's next set replaces them
    await setup.store.refresh()
    with pytest.raises(InvalidJwt, match="no key"):
        await setup.validator.verify(sign(rsa_key))
    await setup.validator.verify(sign(rsa_key2))


async def test_keys_kept_through_an_empty_set_are_dropped_after_three_intervals(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, caplog: pytest.LogCaptureFixture
) -> None:
    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key))
    await setup.store.refresh()
    route.respond(200, json={"keys": []})
    setup.clock.advance(3 * 300 - 1)
    with pytest.raises(UpstreamUnavailable, match="keys loaded 899 s ago are kept"):
        await setup.store.refresh()
    assert setup.store.keys_for(rsa_key.kid)
    setup.clock.advance(1)
    with caplog.at_level(logging.ERROR, logger="oauthbearer"):
        await setup.store.refresh()
    assert setup.store.keys_for(rsa_key.kid) == []
    assert any("listed no keys for 900 s" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "unusable",
    [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "h"},  # an HMAC secret
        "encryption",  # the RSA key published for encryption only
    ],
)
async def test_a_set_of_keys_we_cannot_use_replaces_the_loaded_ones(
    setup: Setup,
    router: respx.MockRouter,
    rsa_key: RSAKey,
    rsa_key2: RSAKey,
    unusable: dict[str, str] | str,
) -> None:
    # The issuer withdrew the key it signed with and published one we skip: that is its
    # new set (the old key may be compromised), not an identity provider mid-change.
    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key))
    await setup.validator.verify(sign(rsa_key))
    if unusable == "encryption":
        [key] = jwks_of(rsa_key2)["keys"]
        unusable = {**key, "use": "enc"}
    route.respond(200, json={"keys": [unusable]})
    await setup.store.refresh()
    assert setup.store.keys_for(rsa_key.kid) == []
    with pytest.raises(InvalidJwt, match="no key"):
        await setup.validator.verify(sign(rsa_key))


async def test_never_loaded_jwks_unreachable_is_unavailable(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(503)
    with pytest.raises(UpstreamUnavailable):
        await setup.validator.verify(sign(rsa_key))


async def test_a_jwks_document_nested_too_deep_is_unavailable_not_an_error(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, content=b'{"keys":' + b"[" * 100_000 + b"}")
    with pytest.raises(UpstreamUnavailable, match="not a JWKS document"):
        await setup.validator.verify(sign(rsa_key))


def test_jwks_drops_symmetric_private_and_encryption_keys(rsa_key: RSAKey) -> None:
    store = JwksStore(JWKS_URL, client=None, clock=FakeClock())
    secret = base64.urlsafe_b64encode(b"k" * 32).decode()
    count = store.load(
        {
            "keys": [
                {"kty": "oct", "k": secret, "kid": "h"},
                dict(rsa_key.as_dict(private=True)),
                {**rsa_key.as_dict(private=False), "kid": "enc", "use": "enc"},
                {"kty": "RSA", "kid": "broken", "n": "???", "e": "AQAB"},
                "not a key",
                {**rsa_key.as_dict(private=False), "kid": "ok"},
            ]
        }
    )
    assert count == 1
    assert store.keys_for("ok")
    assert not store.keys_for("h")
    assert not store.keys_for("enc")


def test_parse_tells_a_jwt_from_anything_else() -> None:
    assert JwtValidator.parse(unsigned_jwt({"alg": "RS256"}, {}, b"s")) is not None
    assert JwtValidator.parse("a.b.c") is None
    assert JwtValidator.parse("opaque+token/==") is None


def test_jwks_reports_keys_withdrawn_or_replaced_under_the_same_kid(
    rsa_key: RSAKey, rsa_key2: RSAKey, ec_key: ECKey
) -> None:
    removed: list[list[str | None]] = []
    store = JwksStore(JWKS_URL, client=None, clock=FakeClock(), on_keys_removed=removed.append)
    store.load(jwks_of(rsa_key, ec_key))
    store.load(jwks_of(rsa_key, ec_key, rsa_key2))  # a key added: nothing withdrawn
    assert removed == []  # (and the first load withdrew nothing either)
    store.load(jwks_of(rsa_key2, ec_key))
    assert removed == [["k1"]]
    # Another key published under a kid we already had: what the old one signed must go.
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k2", "alg": "RS256"})
    store.load(jwks_of(impostor, ec_key))
    assert removed == [["k1"], ["k2"]]


async def test_a_key_replaced_under_the_same_kid_is_seen_by_the_next_token(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey
) -> None:
    # What a header was judged to need (and the keys that fit it) is remembered per
    # header; the next key set must still decide. Both tokens have the same header.
    assert rsa_key.kid is not None
    replacement = RSAKey.generate_key(2048, parameters={"kid": rsa_key.kid})
    old, new = sign(rsa_key), sign(replacement)
    assert old.split(".")[0] == new.split(".")[0]
    await setup.validator.verify(old)
    with pytest.raises(InvalidJwt, match="signature"):
        await setup.validator.verify(new)
    router.get(JWKS_URL).respond(200, json=jwks_of(replacement))
    await setup.store.refresh()
    await setup.validator.verify(new)
    with pytest.raises(InvalidJwt, match="signature"):
        await setup.validator.verify(old)


async def test_a_refused_header_is_refused_every_time(setup: Setup, rsa_key: RSAKey) -> None:
    header = {"alg": "RS256", "kid": "k1", "crit": ["x-must-understand"], "x-must-understand": 1}
    claims = json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60})
    token = sign_by_hand(rsa_key, header, claims.encode())
    for _ in range(3):
        with pytest.raises(InvalidJwt, match="malformed"):
            await setup.validator.verify(token)


async def test_a_flood_of_distinct_headers_keeps_what_is_remembered_bounded(
    setup: Setup, rsa_key: RSAKey
) -> None:
    from oauthbearer.verify import compact

    claims = json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60})
    for i in range(3 * compact.MAX_HEADERS):
        header = {"alg": "RS256", "kid": "k1", "x-n": i}
        await setup.validator.verify(sign_by_hand(rsa_key, header, claims.encode()))
    assert len(compact._HEADERS) <= compact.MAX_HEADERS
    assert len(setup.validator._accepted) <= compact.MAX_HEADERS


# verify_now: what the sidecar calls first for a JWT (no await when the keys are at hand).


async def test_verify_now_defers_until_keys_are_loaded_then_agrees_with_verify(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key, ec_key))
    token = sign(rsa_key)
    assert setup.validator.verify_now(token) is None  # no key set yet: verify must fetch
    assert route.call_count == 0
    claims = await setup.validator.verify(token)
    assert setup.validator.verify_now(token) == claims
    assert route.call_count == 1


async def test_verify_now_defers_an_unknown_kid_and_fetches_nothing(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, rsa_key2: RSAKey, ec_key: ECKey
) -> None:
    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key, ec_key))
    await setup.store.refresh()
    assert setup.validator.verify_now(sign(rsa_key2)) is None  # kid k2: a refetch may help
    assert route.call_count == 1
    # A token without a kid is tried against every key that fits: nothing to refetch for.
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60}
    no_kid = sign_by_hand(rsa_key, {"alg": "RS256"}, json.dumps(claims).encode())
    assert setup.validator.verify_now(no_kid) == claims
    stranger = RSAKey.generate_key(2048)
    forged = sign_by_hand(stranger, {"alg": "RS256"}, json.dumps(claims).encode())
    with pytest.raises(InvalidJwt, match="signature"):
        setup.validator.verify_now(forged)
    assert route.call_count == 1


def _forged_tokens(rsa_key: RSAKey, ec_key: ECKey) -> dict[str, str]:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(NOW) + 60}
    header = b64url(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    payload = b64url(json.dumps(claims).encode())
    mac = hmac.new(rsa_key.as_pem(private=False), f"{header}.{payload}".encode(), "sha256")
    good_header, good_payload, good_signature = sign(rsa_key).split(".")
    admin_payload = sign(rsa_key, {"sub": "admin"}).split(".")[1]
    crit = {"alg": "RS256", "kid": "k1", "crit": ["x-must-understand"], "x-must-understand": 1}
    return {
        "another key, same kid": sign(attacker),
        "alg none": unsigned_jwt({"alg": "none", "kid": "k1"}, claims),
        "HS256 keyed with the public key": f"{header}.{payload}.{b64url(mac.digest())}",
        "RS256 naming an EC key": unsigned_jwt({"alg": "RS256", "kid": ec_key.kid}, claims, b"s"),
        "embedded jwk": sign(attacker, header={"jwk": attacker.as_dict(private=False)}),
        "crit not understood": sign_by_hand(rsa_key, crit, json.dumps(claims).encode()),
        "expired": sign(rsa_key, {"exp": int(NOW) - 31}),
        "other audience": sign(rsa_key, {"aud": "urn:other"}),
        "other issuer": sign(rsa_key, {"iss": "https://evil.example"}),
        "signature respelled": f"{good_header}.{good_payload}.{_respell_last_char(good_signature)}",
        "signature padded": f"{good_header}.{good_payload}.{good_signature}==",
        "payload swapped": f"{good_header}.{admin_payload}.{good_signature}",
        "payload not an object": sign_by_hand(rsa_key, {"alg": "RS256", "kid": "k1"}, b"[1]"),
    }


async def test_verify_now_refuses_everything_verify_refuses(
    setup: Setup, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    await setup.store.refresh()
    deferred = []
    for name, token in _forged_tokens(rsa_key, ec_key).items():
        with pytest.raises(InvalidJwt) as by_verify:
            await setup.validator.verify(token)
        refusal: InvalidJwt | None = None
        try:
            result = setup.validator.verify_now(token)
        except InvalidJwt as exc:
            refusal = exc
        if refusal is None:
            assert result is None, name  # never claims: at most "ask verify"
            deferred.append(name)
            continue
        assert refusal.reason == by_verify.value.reason, name
        assert str(refusal) == str(by_verify.value), name
    # Only a kid our key set has no fitting key for waits for verify (and its refetch).
    assert deferred == ["RS256 naming an EC key"]


async def test_a_key_rotated_in_during_a_jwks_outage_has_no_verdict_not_a_forgery(
    setup: Setup, router: respx.MockRouter, rsa_key: RSAKey, rsa_key2: RSAKey
) -> None:
    from oauthbearer.errors import UpstreamUnavailable

    route = router.get(JWKS_URL)
    route.respond(200, json=jwks_of(rsa_key))
    await setup.validator.verify(sign(rsa_key))
    route.respond(503)  # the JWKS is down; the issuer rotates in k2 meanwhile
    for _ in range(3):  # the refetch, then the tokens within its interval: no verdict
        with pytest.raises(UpstreamUnavailable):
            await setup.validator.verify(sign(rsa_key2))
    assert route.call_count == 2
    await setup.validator.verify(sign(rsa_key))  # known keys keep working meanwhile
    setup.clock.advance(10)
    route.respond(200, json=jwks_of(rsa_key, rsa_key2))
    assert (await setup.validator.verify(sign(rsa_key2)))["sub"] == "orders-service"


async def test_a_token_that_is_not_ascii_is_malformed_not_an_error(
    setup: Setup, rsa_key: RSAKey
) -> None:
    header, _payload, signature = sign(rsa_key).split(".")
    with pytest.raises(InvalidJwt, match="not ASCII"):
        await setup.validator.verify(f"{header}.\u00e9.{signature}")


@pytest.mark.parametrize("name", ["alg", "typ"])
def test_a_header_value_nested_a_thousand_deep_is_refused_not_a_500(name: str) -> None:
    # Quoted in the refusal, its repr() raised RecursionError: a 500 for a header anyone
    # can write (typ is judged when one is configured).
    nested = "[" * 980 + "]" * 980
    raw = ('{"alg":"RS256","typ":' + nested + "}") if name == "typ" else '{"alg":' + nested + "}"
    header = base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()
    validator = JwtValidator(store=None, algorithms=("RS256",), clock=lambda: NOW, typ="at+jwt")
    validator._store = object()  # type: ignore[assignment]  # any store: the header fails first
    with pytest.raises(InvalidJwt, match=f"{name} is not a string"):
        validator.verify_now(f"{header}.e30.c2ln")


# --- key sets of odd content (reviewed 2026-12-02) -------------------------------------
@pytest.mark.parametrize(
    "odd",
    [
        {"kty": "EC", "crv": "brainpoolP256r1", "x": "AAAA", "y": "AAAA", "kid": "odd"},
        {"kty": "EC", "crv": "P-192", "x": "AAAA", "y": "AAAA", "kid": "odd"},
        {"kty": "RSA", "n": 7, "e": "AQAB", "kid": "odd"},
    ],
)
async def test_one_key_of_a_kind_we_cannot_use_leaves_the_others_usable(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey, odd: dict[str, Any]
) -> None:
    # An EC curve joserfc does not know raised KeyError: the whole set never loaded, and
    # every JWT request was a 500.
    router.get(JWKS_URL).respond(200, json={"keys": [*jwks_of(rsa_key)["keys"], odd]})
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        validator = Setup(router, clock, client).validator
        assert (await validator.verify(sign(rsa_key)))["sub"]


@pytest.mark.parametrize("document", [[], "keys", 7, {"keys": "none"}, {"keys": None}])
async def test_a_document_that_is_no_key_set_is_unavailable_and_refresh_goes_on(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey, document: object
) -> None:
    route = router.get(JWKS_URL)
    route.respond(200, json=document)
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        setup = Setup(router, clock, client)
        setup.store._refresh_interval = 0.01  # the periodic loop, quickly
        with pytest.raises(UpstreamUnavailable, match="not a JWKS document"):
            await setup.store.refresh()
        # The periodic refresh survives such a document (it died, and a key withdrawn
        # later went on verifying for ever) and picks the real key set up.
        task = asyncio.ensure_future(setup.store.run_periodic_refresh())
        try:
            for _ in range(200):
                if route.call_count >= 2:
                    break
                await asyncio.sleep(0.01)
            route.respond(200, json=jwks_of(rsa_key))
            for _ in range(300):
                if setup.store.loaded:
                    break
                await asyncio.sleep(0.01)
            assert setup.store.loaded
            assert not task.done()
        finally:
            task.cancel()


@pytest.mark.parametrize("member", ["p", "q", "dp", "dq", "qi"])
async def test_a_published_key_with_any_private_member_is_not_trusted(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey, member: str
) -> None:
    # A published p gives the whole key away (q = n / p), though joserfc calls a key
    # private on "d" alone: anyone could have signed with it.
    private = rsa_key.as_dict(private=True)
    leaked = {**rsa_key.as_dict(private=False), member: private[member]}
    router.get(JWKS_URL).respond(200, json={"keys": [leaked]})
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        validator = Setup(router, clock, client).validator
        with pytest.raises(InvalidJwt, match="no key for kid"):
            await validator.verify(sign(rsa_key))


@pytest.mark.filterwarnings("ignore:Key size should be >= 2048 bits")  # joserfc's, meant
async def test_an_rsa_key_under_2048_bits_is_not_trusted(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    weak = RSAKey.generate_key(1024, parameters={"kid": "weak"}, private=True)
    router.get(JWKS_URL).respond(200, json={"keys": [weak.as_dict(private=False)]})
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        validator = Setup(router, clock, client).validator
        with pytest.raises(InvalidJwt, match="no key for kid"):
            await validator.verify(sign(weak))  # RFC 7518 §3.3: 2048 bits or larger


async def test_a_key_set_never_loaded_is_not_fetched_once_per_token(
    router: respx.MockRouter, clock: FakeClock
) -> None:
    # While the JWKS was down, every token (anyone's, signed or not) fetched it again.
    route = router.get(JWKS_URL)
    route.respond(503)
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        validator = Setup(router, clock, client).validator
        for _ in range(20):
            with pytest.raises(UpstreamUnavailable):
                await validator.verify(unsigned_jwt({"alg": "RS256", "kid": "k"}, {}))
        assert route.call_count == 1
        clock.advance(10)  # the refetch interval
        with pytest.raises(UpstreamUnavailable):
            await validator.verify(unsigned_jwt({"alg": "RS256", "kid": "k"}, {}))
        assert route.call_count == 2
