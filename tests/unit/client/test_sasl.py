"""SASL extension and token rules (RFC 7628 §3.1, RFC 6750 §2.1, Kafka's checks)."""

from __future__ import annotations

import pytest

from oauthbearer.client.sasl import is_bearer_token, parse_extensions, validate_extensions
from oauthbearer.errors import ConfigurationError

VAR = "OAUTHBEARER_LOGIN_SASL_EXTENSIONS"


def test_confluent_cloud_extensions_are_accepted() -> None:
    assert parse_extensions("logicalCluster=lkc-abc12, identityPoolId=pool-Ab1C", VAR) == (
        ("logicalCluster", "lkc-abc12"),
        ("identityPoolId", "pool-Ab1C"),
    )


def test_empty_means_none() -> None:
    assert parse_extensions(None, VAR) == ()
    assert parse_extensions("  ", VAR) == ()


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("auth", "x")], "reserved"),
        ([("logical_cluster", "x")], "letters only"),
        ([("cluster1", "x")], "letters only"),
        ([("", "x")], "letters only"),
        ([("a", "x"), ("a", "y")], "twice"),
        ([("a", "caf\u00e9")], "printable ASCII"),
        ([("a", "x\x00y")], "printable ASCII"),
        ([("a", "x\x01y")], "printable ASCII"),
        # Kafka's broker parses values as [\x21-\x7E \t\r\n]+: an empty one is refused
        # there with nothing but "Invalid OAUTHBEARER client first message".
        ([("identityPoolId", "")], "non-empty"),
    ],
)
def test_invalid_extensions_are_refused_naming_the_variable(
    pairs: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as info:
        validate_extensions(pairs, VAR)
    assert info.value.variable == VAR


def test_values_may_hold_any_printable_ascii() -> None:
    value = "".join(chr(c) for c in range(0x20, 0x7F))
    assert validate_extensions([("k", value)], VAR) == (("k", value),)


def test_malformed_list_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="expected key=value"):
        parse_extensions("logicalCluster", VAR)


@pytest.mark.parametrize(
    ("token", "ok"),
    [
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", True),
        ("abc+/~-_.==", True),
        ("abc==x", False),
        ("has space", False),
        ('quote"', False),
        ("", False),
    ],
)
def test_bearer_token_charset(token: str, ok: bool) -> None:
    assert is_bearer_token(token) is ok
