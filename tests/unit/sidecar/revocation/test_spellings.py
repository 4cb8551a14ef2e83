"""The n - s twin of an ECDSA-signed JWT (oauthbearer/sidecar/revocation/spellings.py).

Each curve's order is checked against OpenSSL: the twin computed with it must verify."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from oauthbearer.sidecar.revocation.spellings import CURVE_ORDERS, other_spellings

CURVES = {
    "ES256": (ec.SECP256R1(), hashes.SHA256()),
    "ES384": (ec.SECP384R1(), hashes.SHA384()),
    "ES512": (ec.SECP521R1(), hashes.SHA512()),
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(signature: str) -> bytes:
    return base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


def _signed(alg: str, key: ec.EllipticCurvePrivateKey) -> str:
    _, digest = CURVES[alg]
    width = CURVE_ORDERS[alg][1]
    signing_input = f"{_b64(json.dumps({'alg': alg}).encode())}.{_b64(b'{}')}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(digest)))
    return f"{signing_input}.{_b64(r.to_bytes(width, 'big') + s.to_bytes(width, 'big'))}"


def _verifies(alg: str, key: ec.EllipticCurvePrivateKey, token: str) -> bool:
    _, digest = CURVES[alg]
    width = CURVE_ORDERS[alg][1]
    signing_input, signature = token.rsplit(".", 1)
    raw = _raw(signature)
    der = encode_dss_signature(
        int.from_bytes(raw[:width], "big"), int.from_bytes(raw[width:], "big")
    )
    try:
        key.public_key().verify(der, signing_input.encode(), ec.ECDSA(digest))
    except InvalidSignature:
        return False
    return True


@pytest.mark.parametrize("alg", sorted(CURVES))
def test_the_twin_is_another_text_that_verifies_and_its_twin_is_the_token(alg: str) -> None:
    key = ec.generate_private_key(CURVES[alg][0])
    token = _signed(alg, key)
    [twin] = other_spellings(token)
    assert twin != token
    assert twin.rsplit(".", 1)[0] == token.rsplit(".", 1)[0]
    assert _verifies(alg, key, token)
    assert _verifies(alg, key, twin)  # the curve order is right
    assert other_spellings(twin) == [token]


RS256 = _b64(b'{"alg":"RS256"}')
ES256 = _b64(b'{"alg":"ES256"}')


@pytest.mark.parametrize(
    "token",
    [
        "opaque-token",
        "a.b",
        f"{RS256}.e30.c2ln",  # one spelling only
        f"{_b64(b'[1]')}.e30.c2ln",  # a header that is no object
        f"{ES256}.e30.c2ln",  # a signature of the wrong length
        f"{ES256}.e30.{_b64(bytes(64))}",  # s = 0: signs nothing
        f"{ES256}.e30.{_b64(bytes([255]) * 64)}",  # s past the order
        "!!!.e30.c2ln",
    ],
)
def test_what_has_no_twin(token: str) -> None:
    assert other_spellings(token) == []
