"""Signature checks: the direct RSA path agrees with joserfc for every RS*/PS* algorithm, and
a key is used only for what its type, curve, ``alg``, ``use`` and ``key_ops`` allow."""

from __future__ import annotations

import pytest
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey, import_key
from joserfc.jws import JWSRegistry

from oauthbearer.verify.signature import key_fits, signature_checks

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
