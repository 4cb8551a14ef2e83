"""Claim rules as a broker's validator reads claims: paths, principals, groups, fallbacks.

Strimzi's validator is the reference (``PrincipalExtractor`` and
``JSONUtil.asListOfString`` in strimzi-kafka-oauth): the sidecar's normalised answer must
give the broker the principal and groups Strimzi itself would have read from the token.
"""

from __future__ import annotations

from typing import Any

import pytest

from oauthbearer.errors import ConfigurationError
from oauthbearer.sidecar.claims import ClaimRules, lookup
from oauthbearer.sidecar.settings import SidecarSettings


def rules_from(**env: str) -> ClaimRules:
    base = {"OAUTHBEARER_JWKS_URL": "https://idp.example/jwks", "OAUTHBEARER_CALLERS": "b:x"}
    return SidecarSettings.from_env({**base, **env}).claim_rules


KEYCLOAK_CLIENT_WITH_DOTS = {
    "resource_access": {"kafka.broker": {"roles": ["topic-owner"]}, "kafka": {"roles": ["x"]}}
}


@pytest.mark.parametrize(
    "path",
    [
        "[resource_access].['kafka.broker'].[roles]",
        "['resource_access'] . ['kafka.broker'] . ['roles']",
    ],
)
def test_strimzis_bracketed_paths_reach_names_that_hold_dots(path: str) -> None:
    assert lookup(KEYCLOAK_CLIENT_WITH_DOTS, path) == ["topic-owner"]
    rules = rules_from(OAUTHBEARER_GROUPS_CLAIM=path)
    assert rules.groups_of(KEYCLOAK_CLIENT_WITH_DOTS) == ["topic-owner"]


def test_a_dotted_path_still_splits_on_every_dot() -> None:
    assert lookup(KEYCLOAK_CLIENT_WITH_DOTS, "resource_access.kafka.roles") == ["x"]
    assert lookup(KEYCLOAK_CLIENT_WITH_DOTS, "resource_access.kafka.broker.roles") is None


@pytest.mark.parametrize(
    "variable",
    [
        "OAUTHBEARER_PRINCIPAL_CLAIM",
        "OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM",
        "OAUTHBEARER_GROUPS_CLAIM",
        "OAUTHBEARER_SCOPE_CLAIMS",
        "OAUTHBEARER_SUBJECT_CLAIMS",
    ],
)
@pytest.mark.parametrize("path", ["[resource_access", "['kafka.broker]", "[a][b]", "[]"])
def test_a_malformed_bracketed_path_fails_start_up_naming_the_variable(
    variable: str, path: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        rules_from(**{variable: path})
    assert caught.value.variable == variable


@pytest.mark.parametrize(
    ("value", "principal"),
    [("alice", "alice"), (1234, "1234"), ("", None), (True, None), ({"id": 1}, None)],
)
def test_a_principal_is_a_string_or_a_numbers_text(value: Any, principal: str | None) -> None:
    rules = ClaimRules(principal=("uid",))
    assert rules.principal_of({"uid": value}) == principal


def test_a_configured_principal_claim_ends_the_legacy_fallbacks() -> None:
    """A client whose client_id is "alice" must not pass for the user alice when the
    principal is configured as preferred_username."""
    client_token = {"sub": "5f0c-uuid", "client_id": "alice", "username": "alice"}
    assert (
        rules_from(OAUTHBEARER_PRINCIPAL_CLAIM="preferred_username").principal_of(client_token)
        is None
    )
    fallback_only = rules_from(
        OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM="client_id",
        OAUTHBEARER_PRINCIPAL_FALLBACK_PREFIX="service-account-",
    )
    assert fallback_only.principal_of({"username": "alice"}) is None
    assert fallback_only.principal_of(client_token) == "5f0c-uuid"  # sub, the default


def test_the_legacy_fallbacks_stay_for_configurations_that_predate_principal_claims() -> None:
    assert rules_from().principal_of({"client_id": "orders"}) == "orders"
    assert rules_from().principal_of({"username": "alice"}) == "alice"


def test_subject_claims_set_beside_a_principal_claim_is_honoured_and_none_turns_it_off() -> None:
    both = rules_from(
        OAUTHBEARER_PRINCIPAL_CLAIM="preferred_username", OAUTHBEARER_SUBJECT_CLAIMS="cid"
    )
    assert both.principal_of({"cid": "orders"}) == "orders"
    assert rules_from(OAUTHBEARER_SUBJECT_CLAIMS="none").principal_of({"client_id": "x"}) is None


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        ("Kafka Admins", ["Kafka Admins"]),  # a name with a space stays whole
        ("readers, writers,,", ["readers", "writers"]),
        (["kafka-writers", 42, {"a": 1}], ["kafka-writers", "42", '{"a":1}']),
        (["kafka-writers", ""], ["kafka-writers"]),
        ({"not": "a list"}, []),
        (None, []),
    ],
)
def test_groups_are_read_as_strimzi_reads_them(value: Any, groups: list[str]) -> None:
    rules = rules_from(OAUTHBEARER_GROUPS_CLAIM="groups")
    assert rules.groups_of({"groups": value}) == groups


def test_the_groups_delimiter_can_be_whitespace() -> None:
    rules = rules_from(
        OAUTHBEARER_GROUPS_CLAIM="groups", OAUTHBEARER_GROUPS_CLAIM_DELIMITER="space"
    )
    assert rules.groups_of({"groups": "readers writers"}) == ["readers", "writers"]
    semicolon = rules_from(
        OAUTHBEARER_GROUPS_CLAIM="groups", OAUTHBEARER_GROUPS_CLAIM_DELIMITER=";"
    )
    assert semicolon.groups_of({"groups": "a b;c"}) == ["a b", "c"]
