"""JWT attacks, generated: whatever is done to a valid token, only the original is active.

Mutations: every header parameter an attacker controls (``alg`` none/HS*/unknown, ``kid``
unknown or injected, ``jku``/``x5u``/``jwk``/``x5c`` pointing at their own key, ``crit``,
``b64``), the claims re-encoded with a changed value and the old signature, HMAC signatures
made with the RSA public key (PEM, DER and JWK forms) as the secret, bytes flipped anywhere,
segments swapped, truncated or padded. The JWKS is the only URL the sidecar may fetch
(``assert_all_mocked``: a fetch of ``jku``/``x5u`` would fail the test).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from tests.robustness.conftest import SyncSidecar, assert_contract, upstream_world
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    UPSTREAM_URL,
    FakeClock,
    b64url,
    make_settings,
    sign,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ATTACKER_URL = "https://attacker.example/jwks.json"


@pytest.fixture(scope="module")
def world(rsa_key: RSAKey) -> Iterator[tuple[SyncSidecar, respx.MockRouter, str]]:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    upstream_world(router, rsa_key)
    app = SyncSidecar(make_settings(jwks_min_refetch_interval=10.0), router, FakeClock())
    yield app, router, sign(rsa_key)
    app.close()


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    h, p, s = token.split(".")
    return json.loads(_unb64(h)), json.loads(_unb64(p)), s


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: str) -> str:
    return ".".join(
        [b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), signature]
    )


def _hmac(header: dict[str, Any], claims: dict[str, Any], secret: bytes, alg: str) -> str:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    head = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    return head + "." + b64url(hmac.new(secret, head.encode(), digest).digest())


HEADER_ATTACKS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(
            ["none", "None", "NONE", "HS256", "HS384", "HS512", "RS256", "ES256", "PS256", "", 7]
        ),
        "kid": st.one_of(
            st.sampled_from(["k1", "k2", "../../../dev/null", "' OR '1'='1", "k1\x00", ""]),
            st.text(max_size=30),
            st.integers(),
        ),
        "jku": st.just(ATTACKER_URL),
        "x5u": st.just(ATTACKER_URL),
        "jwk": st.just({"kty": "oct", "k": "YXR0YWNrZXI"}),
        "x5c": st.just(["MIIBattacker"]),
        "crit": st.just(["exp"]),
        "b64": st.just(False),
        "typ": st.sampled_from(["JWT", "at+jwt", "JOSE"]),
    },
)
CLAIM_ATTACKS = st.fixed_dictionaries(
    {},
    optional={
        "sub": st.sampled_from(["admin", "", None]),
        "exp": st.one_of(st.integers(), st.just("9999999999"), st.floats(allow_nan=True)),
        "iss": st.sampled_from(["https://attacker.example", ""]),
        "aud": st.sampled_from(["urn:other", [], ["urn:other"]]),
        "nbf": st.integers(),
        "scope": st.just("kafka admin"),
    },
)


@FUZZ
@given(header=HEADER_ATTACKS, claims=CLAIM_ATTACKS, keep_signature=st.booleans())
def test_any_header_or_claim_change_is_inactive(
    world: tuple[SyncSidecar, respx.MockRouter, str],
    header: dict[str, Any],
    claims: dict[str, Any],
    keep_signature: bool,
) -> None:
    app, router, valid = world
    original_header, original_claims, signature = _segments(valid)
    new_header = {**original_header, **header}
    new_claims = {**original_claims, **claims}
    forged = _compact(new_header, new_claims, signature if keep_signature else "")
    if forged == valid:
        return
    body = assert_contract(app.post(f"token={forged}".encode()))
    assert body == {"active": False}
    _only_known_urls_fetched(router)


@FUZZ
@given(
    claims=CLAIM_ATTACKS,
    alg=st.sampled_from(["HS256", "HS384", "HS512"]),
    form=st.sampled_from(["pem", "der", "jwk-json", "n"]),
)
def test_hmac_signed_with_the_public_key_is_inactive(
    world: tuple[SyncSidecar, respx.MockRouter, str],
    rsa_key: RSAKey,
    claims: dict[str, Any],
    alg: str,
    form: str,
) -> None:
    app, router, valid = world
    public = rsa_key.as_dict(private=False)
    secret = {
        "pem": rsa_key.as_pem(private=False),
        "der": rsa_key.as_der(private=False),
        "jwk-json": json.dumps(public).encode(),
        "n": str(public["n"]).encode(),
    }[form]
    header, original, _ = _segments(valid)
    forged = _hmac({**header, "alg": alg}, {**original, **claims}, secret, alg)
    assert assert_contract(app.post(f"token={forged}".encode())) == {"active": False}
    _only_known_urls_fetched(router)


@FUZZ
@given(data=st.data())
def test_any_byte_level_damage_is_inactive(
    world: tuple[SyncSidecar, respx.MockRouter, str], data: st.DataObject
) -> None:
    app, router, valid = world
    mutation = data.draw(st.sampled_from(["flip", "truncate", "append", "swap", "extra-segment"]))
    token = valid
    if mutation == "flip":
        i = data.draw(st.integers(0, len(token) - 1))
        c = data.draw(
            st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
        )
        token = token[:i] + c + token[i + 1 :]
    elif mutation == "truncate":
        token = token[: data.draw(st.integers(1, len(token) - 1))]
    elif mutation == "append":
        token += data.draw(st.sampled_from(["=", "==", "A", ".", "x.y"]))
    elif mutation == "swap":
        h, p, s = token.split(".")
        token = ".".join(data.draw(st.permutations([h, p, s])))
    else:
        token += "." + token.split(".")[2]
    if token == valid:
        return
    body = assert_contract(app.post(f"token={token}".encode()))
    # Damage inside base64 padding bits can leave the decoded bytes unchanged: then it is
    # still the genuine token and may be active; any other change must be inactive.
    if body.get("active") is True:
        assert _decoded(token) == _decoded(valid)
    _only_known_urls_fetched(router)


def test_the_unmodified_token_is_active(world: tuple[SyncSidecar, respx.MockRouter, str]) -> None:
    app, _, valid = world
    body = assert_contract(app.post(f"token={valid}".encode()))
    assert body["active"] is True
    assert body["sub"] == "orders-service"


def _decoded(token: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)) for p in token.split(".")]


def _only_known_urls_fetched(router: respx.MockRouter) -> None:
    urls = {str(call.request.url) for call in router.calls}
    assert urls <= {JWKS_URL, UPSTREAM_URL}, urls
    assert not any("attacker" in u for u in urls)
