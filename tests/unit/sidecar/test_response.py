"""The answer's claim set: exp, iat and nbf as integers a broker can read (a Java long)."""

from __future__ import annotations

import pytest

from oauthbearer.sidecar.claims import DEFAULT_CLAIM_RULES
from oauthbearer.sidecar.response import NotUsable, normalize

NOW = 1_000.0


def _shape(**claims: object) -> dict[str, object]:
    return normalize(
        {"active": True, "sub": "app", **claims},
        now=NOW,
        rules=DEFAULT_CLAIM_RULES,
        default_lifetime=60.0,
        response_issuer=None,
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [(2000, 2000), (2000.9, 2000), (2**63 - 1, 2**63 - 1), (-(2**63), -(2**63))],
)
def test_numbers_become_integer_seconds(given: float, expected: int) -> None:
    shaped = _shape(exp=given, iat=given, nbf=given)
    assert (shaped["exp"], shaped["iat"], shaped["nbf"]) == (expected, expected, expected)
    assert all(type(shaped[name]) is int for name in ("exp", "iat", "nbf"))


@pytest.mark.parametrize(
    "bad", [True, "2000", float("inf"), float("nan"), [2000], 2**63, 1e300, 10**400]
)
def test_an_exp_that_is_no_number_is_not_usable(bad: object) -> None:
    # (null is no value, read as a missing exp: see test_app's null dates.)
    with pytest.raises(NotUsable, match="exp"):
        _shape(exp=bad)


@pytest.mark.parametrize("bad", [True, "2000", float("nan"), 10**400])
def test_an_iat_that_is_no_number_is_replaced_by_now(bad: object) -> None:
    assert _shape(exp=2000, iat=bad)["iat"] == int(NOW)


def test_active_is_dropped_and_the_order_kept() -> None:
    shaped = normalize(
        {"iss": "i", "active": True, "sub": "app", "exp": 2000, "x": 1},
        now=NOW,
        rules=DEFAULT_CLAIM_RULES,
        default_lifetime=60.0,
        response_issuer=None,
    )
    assert list(shaped) == ["iss", "sub", "exp", "x", "iat"]
