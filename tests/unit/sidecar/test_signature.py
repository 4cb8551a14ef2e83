"""Signature checks: the direct RSA path agrees with joserfc for every RS*/PS* algorithm, and
a key is used only for what its type, curve, ``alg``, ``use`` and ``key_ops`` allow."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa as crypto_rsa
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey, import_key
from joserfc.jws import JWSRegistry

from oauthbearer.verify.signature import key_fits, pkcs1_v15_check, signature_checks

RSA_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
REGISTRY = JWSRegistry(algorithms=[*RSA_ALGS, "ES256", "ES384", "Ed25519"])
SIGNING_INPUT = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"


@pytest.fixture(scope="module")
def rsa() -> RSAKey:
    return RSAKey.generate_key(2048, private=True)


def _public(key: Key, **extra: str | list[str]) -> Key:
    data: dict[str, str | list[str]] = {**key.as_dict(private=False), **extra}
    return import_key(data)


@pytest.mark.parametrize("alg", RSA_ALGS)
def test_rsa_check_accepts_what_joserfc_signs_and_nothing_else(rsa: RSAKey, alg: str) -> None:
    model = REGISTRY.get_alg(alg)
    signature = model.sign(SIGNING_INPUT, rsa)
    [check] = signature_checks(alg, model, [_public(rsa)])
    assert check(SIGNING_INPUT, signature)
    assert model.verify(SIGNING_INPUT, signature, _public(rsa))  # the reference agrees
    assert not check(SIGNING_INPUT + b"x", signature)
    assert not check(SIGNING_INPUT, signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not check(SIGNING_INPUT, b"")


@pytest.mark.parametrize(("signed_with", "checked_as"), [("RS256", "PS256"), ("PS256", "RS256")])
def test_rsa_padding_is_the_algorithms_own(rsa: RSAKey, signed_with: str, checked_as: str) -> None:
    signature = REGISTRY.get_alg(signed_with).sign(SIGNING_INPUT, rsa)
    [check] = signature_checks(checked_as, REGISTRY.get_alg(checked_as), [_public(rsa)])
    assert not check(SIGNING_INPUT, signature)


def test_rsa_hash_is_the_algorithms_own(rsa: RSAKey) -> None:
    signature = REGISTRY.get_alg("RS384").sign(SIGNING_INPUT, rsa)
    [check] = signature_checks("RS256", REGISTRY.get_alg("RS256"), [_public(rsa)])
    assert not check(SIGNING_INPUT, signature)


@pytest.mark.parametrize(
    "extra",
    [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"alg": "RS512"}],
    ids=["use-enc", "key_ops-encrypt", "own-alg-differs"],
)
def test_a_key_restricted_otherwise_yields_no_check(
    rsa: RSAKey, extra: dict[str, str | list[str]]
) -> None:
    assert signature_checks("RS256", REGISTRY.get_alg("RS256"), [_public(rsa, **extra)]) == []


def test_a_key_allowed_to_verify_yields_a_check(rsa: RSAKey) -> None:
    key = _public(rsa, use="sig", key_ops=["verify"], alg="RS256")
    assert len(signature_checks("RS256", REGISTRY.get_alg("RS256"), [key])) == 1


def test_ec_and_eddsa_checks_verify_through_joserfc() -> None:
    keys: list[tuple[str, Key]] = [
        ("ES256", ECKey.generate_key("P-256", private=True)),
        ("Ed25519", OKPKey.generate_key("Ed25519", private=True)),
    ]
    for alg, key in keys:
        model = REGISTRY.get_alg(alg)
        signature = model.sign(SIGNING_INPUT, key)
        [check] = signature_checks(alg, model, [_public(key)])
        assert check(SIGNING_INPUT, signature), alg
        assert not check(SIGNING_INPUT + b"x", signature), alg


def test_key_type_and_curve_must_fit_the_algorithm(rsa: RSAKey) -> None:
    p256 = ECKey.generate_key("P-256")
    assert key_fits(rsa, "PS384")
    assert not key_fits(rsa, "ES256")
    assert key_fits(p256, "ES256")
    assert not key_fits(p256, "ES384")  # ES384 is P-384 only
    assert not key_fits(p256, "RS256")
    assert not key_fits(OKPKey.generate_key("Ed25519"), "ES256")
    assert not key_fits(rsa, "HS256")  # no symmetric algorithm, ever
    keys = [p256, _public(rsa)]  # order kept, misfits dropped
    assert len(signature_checks("RS256", REGISTRY.get_alg("RS256"), keys)) == 1


# RSASSA-PKCS1-v1_5 is checked by recovering the encoded message and comparing it with
# the expected one (signature.pkcs1_v15_check), not by cryptography's verify. These
# encodings are signed with the private key's raw operation, so each one reaches the
# comparison; the check must answer exactly as OpenSSL's verify does for every one.
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def _encoded_messages(signing_input: bytes) -> dict[str, bytes]:
    """Encoded messages (RFC 8017 §9.2), the right one and forgeries, without padding."""
    digest = hashlib.sha256(signing_input).digest()
    sha384_prefix = bytes.fromhex("3041300d060960864801650304020205000430")
    return {
        "right": _SHA256_PREFIX + digest,
        "no NULL parameters": bytes.fromhex("302f300b06096086480165030402010420") + digest,
        "SHA-384 OID, SHA-256 hash": sha384_prefix[:-1] + b"\x20" + digest,
        "hash of other input": _SHA256_PREFIX + hashlib.sha256(b"other").digest(),
        "trailing garbage": _SHA256_PREFIX + digest + b"\x00",
        "hash alone": digest,
        "truncated hash": _SHA256_PREFIX + digest[:-1],
    }


def _padded(message: bytes, size: int, *, block_type: int = 1, filler: int = 0xFF) -> bytes:
    return bytes([0, block_type]) + bytes([filler]) * (size - 3 - len(message)) + b"\0" + message


def _raw_sign(key: crypto_rsa.RSAPrivateKey, block: bytes) -> bytes:
    numbers = key.private_numbers()
    value = pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n)
    return value.to_bytes(len(block), "big")


def _openssl_accepts(
    public: crypto_rsa.RSAPublicKey, signing_input: bytes, signature: bytes
) -> bool:
    try:
        public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


@pytest.fixture(scope="module")
def rsa_private() -> crypto_rsa.RSAPrivateKey:
    return crypto_rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _signatures(key: crypto_rsa.RSAPrivateKey) -> dict[str, tuple[bytes, bytes]]:
    """(signing input, signature) by case."""
    size = (key.key_size + 7) // 8
    modulus = key.public_key().public_numbers().n
    good = key.sign(SIGNING_INPUT, padding.PKCS1v15(), hashes.SHA256())
    cases = {
        name: _raw_sign(key, _padded(message, size))
        for name, message in _encoded_messages(SIGNING_INPUT).items()
    }
    right = _SHA256_PREFIX + hashlib.sha256(SIGNING_INPUT).digest()
    cases |= {
        "block type 2": _raw_sign(key, _padded(right, size, block_type=2, filler=0x42)),
        "block type 1, zero filler": _raw_sign(key, _padded(right, size, filler=0)),
        "no separator": _raw_sign(key, b"\0\1" + b"\xff" * (size - 2 - len(right)) + right),
        "signed by cryptography": good,
        "one bit flipped": good[:-1] + bytes([good[-1] ^ 1]),
        "leading byte dropped": good[1:],
        "leading zero added": b"\0" + good,
        "the modulus": modulus.to_bytes(size, "big"),
        "signature plus the modulus": (
            (int.from_bytes(good, "big") + modulus).to_bytes(size + 1, "big").lstrip(b"\0")
        ),
        "zero": bytes(size),
        "one": (1).to_bytes(size, "big"),
        "all ones": b"\xff" * size,
        "empty": b"",
    }
    signed = {name: (SIGNING_INPUT, signature) for name, signature in cases.items()}
    # A signature whose first byte is zero, and the same without it (OpenSSL refuses
    # the short one: RFC 8017 §8.2.2 step 1).
    for n in range(4096):
        data = b"%d" % n
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if signature[0] == 0:
            signed["leading zero byte"] = (data, signature)
            signed["leading zero byte dropped"] = (data, signature[1:])
            break
    assert "leading zero byte" in signed  # one in 256 signatures: found in 4,096 tries
    return signed


def test_pkcs1_v15_check_answers_as_openssl_verify(rsa_private: crypto_rsa.RSAPrivateKey) -> None:
    public = rsa_private.public_key()
    check = pkcs1_v15_check(public, "RS256")
    accepted = []
    for name, (signing_input, signature) in _signatures(rsa_private).items():
        expected = _openssl_accepts(public, signing_input, signature)
        assert check(signing_input, signature) is expected, name
        if expected:
            accepted.append(name)
    # The forgeries did reach the comparison, and only the genuine encodings pass.
    assert accepted == ["right", "signed by cryptography", "leading zero byte"]


@pytest.mark.parametrize(
    ("alg", "hash_alg"), [("RS384", hashes.SHA384()), ("RS512", hashes.SHA512())]
)
def test_pkcs1_v15_check_uses_the_algorithms_hash(
    rsa_private: crypto_rsa.RSAPrivateKey, alg: str, hash_alg: hashes.HashAlgorithm
) -> None:
    signature = rsa_private.sign(SIGNING_INPUT, padding.PKCS1v15(), hash_alg)
    assert pkcs1_v15_check(rsa_private.public_key(), alg)(SIGNING_INPUT, signature)
    assert not pkcs1_v15_check(rsa_private.public_key(), "RS256")(SIGNING_INPUT, signature)
