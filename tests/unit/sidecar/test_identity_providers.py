"""Tokens shaped like each identity provider's, through the sidecar: one normalised answer.

For every provider, the documented shape of a client-credentials (and, where it differs,
a user) access token, the settings a user of that provider sets, and the ``sub``,
``groups`` and ``scope`` a broker must then see — the same whether the token is a JWT
verified against the JWKS or an opaque token introspected upstream (the upstream's answer
carries the same claims plus ``active``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import respx
from joserfc.jwk import RSAKey

from oauthbearer._secret import Secret
from oauthbearer.sidecar.settings import SidecarSettings
from tests.unit.sidecar.conftest import (
    JWKS_URL,
    NOW,
    UPSTREAM_URL,
    FakeClock,
    jwks_of,
    make_settings,
    running,
    sign,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
#: The sidecar settings README.md's provider table gives (test_readme_rows checks it).
ENTRA_ID = {
    "OAUTHBEARER_PRINCIPAL_CLAIM": "preferred_username,upn,unique_name,azp,appid",
    "OAUTHBEARER_GROUPS_CLAIM": "roles",
    "OAUTHBEARER_SCOPE_CLAIMS": "scp,roles",
}
AUTH0 = {
    "OAUTHBEARER_SCOPE_CLAIMS": "permissions,scope",
    "OAUTHBEARER_GROUPS_CLAIM": "https://kafka.example/groups",
}


@dataclass(frozen=True)
class Case:
    name: str
    iss: str
    aud: str
    claims: dict[str, Any]
    env: dict[str, str]
    sub: str
    groups: list[str] | None
    scope: str | None


CASES = [
    Case(
        "keycloak-client-credentials",
        "https://kc.example/realms/kafka",
        "kafka",
        {
            "sub": "5f0c1f7e-6b1c-4f2a-9d0e-3b8a7c6d5e4f",  # the service account's UUID
            "azp": "orders-service",
            "client_id": "orders-service",
            "preferred_username": "service-account-orders-service",
            "typ": "Bearer",
            "realm_access": {"roles": ["default-roles-kafka", "kafka-writers"]},
            "resource_access": {"kafka": {"roles": ["orders-topic-owner"]}},
            "scope": "profile email",
        },
        {
            "OAUTHBEARER_PRINCIPAL_CLAIM": "preferred_username",
            "OAUTHBEARER_GROUPS_CLAIM": "resource_access.kafka.roles",
        },
        "service-account-orders-service",
        ["orders-topic-owner"],
        "profile email",
    ),
    Case(
        "keycloak-user",
        "https://kc.example/realms/kafka",
        "kafka",
        {
            "sub": "2b7c8f52-7a59-4c4e-9a38-2d4f8b7e1c11",
            "azp": "kafka-ui",
            "preferred_username": "alice",
            "realm_access": {"roles": ["kafka-readers"]},
            "scope": "openid profile",
            "sid": "a1b2",
        },
        {
            "OAUTHBEARER_PRINCIPAL_CLAIM": "preferred_username",
            "OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM": "client_id",
            "OAUTHBEARER_PRINCIPAL_FALLBACK_PREFIX": "service-account-",
            "OAUTHBEARER_GROUPS_CLAIM": "realm_access.roles",
        },
        "alice",
        ["kafka-readers"],
        "openid profile",
    ),
    Case(
        "keycloak-fallback-with-prefix",
        "https://kc.example/realms/kafka",
        "kafka",
        {"sub": "0d9e…", "client_id": "billing", "scope": "kafka"},
        {
            "OAUTHBEARER_PRINCIPAL_CLAIM": "preferred_username",
            "OAUTHBEARER_PRINCIPAL_FALLBACK_CLAIM": "client_id",
            "OAUTHBEARER_PRINCIPAL_FALLBACK_PREFIX": "service-account-",
        },
        "service-account-billing",
        None,
        "kafka",
    ),
    Case(
        "entra-id-v1",
        f"https://sts.windows.net/{TENANT}/",
        "api://kafka",
        {
            "sub": "9a8b7c6d-oid-of-the-service-principal",
            "oid": "9a8b7c6d-oid-of-the-service-principal",
            "appid": "b1c2d3e4-app-id",
            "tid": TENANT,
            "roles": ["Kafka.Write", "Kafka.Read"],
            "ver": "1.0",
        },
        ENTRA_ID,
        "b1c2d3e4-app-id",
        ["Kafka.Write", "Kafka.Read"],
        "Kafka.Write Kafka.Read",
    ),
    Case(
        "entra-id-v2-user",
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "c0ffee00-kafka-api",
        {
            "sub": "pairwise-subject-of-the-user",
            "oid": "user-object-id",
            "azp": "kafka-ui-app",
            "preferred_username": "alice@example.com",
            "scp": "Kafka.Produce Kafka.Consume",
            "ver": "2.0",
        },
        {**ENTRA_ID, "OAUTHBEARER_GROUPS_CLAIM": ""},
        "alice@example.com",
        None,
        "Kafka.Produce Kafka.Consume",
    ),
    Case(
        "entra-id-v2-app",
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "c0ffee00-kafka-api",
        {"sub": "sp-object-id", "azp": "orders-app", "roles": ["Kafka.Write"], "ver": "2.0"},
        ENTRA_ID,
        "orders-app",
        ["Kafka.Write"],
        "Kafka.Write",
    ),
    Case(
        "entra-id-v1-user",
        f"https://sts.windows.net/{TENANT}/",
        "api://kafka",
        {
            "sub": "pairwise-subject-of-bob",
            "oid": "bob-object-id",
            "appid": "kafka-ui-app-id",  # the client application, not the user
            "upn": "bob@example.com",
            "unique_name": "bob@example.com",
            "scp": "Kafka.Consume",
            "ver": "1.0",
        },
        {**ENTRA_ID, "OAUTHBEARER_GROUPS_CLAIM": ""},
        "bob@example.com",
        None,
        "Kafka.Consume",
    ),
    Case(
        "auth0-user",
        "https://tenant.eu.auth0.com/",
        "https://kafka.example",
        {
            "sub": "auth0|123456",
            "azp": "kafka-ui-client",  # the application the user signed in to
            "permissions": ["read:orders"],
            "scope": "openid read:orders",
            "https://kafka.example/groups": "readers, auditors",
        },
        AUTH0,
        "auth0|123456",
        ["readers", "auditors"],
        "read:orders",
    ),
    Case(
        "okta",
        "https://dev-123.okta.com/oauth2/default",
        "api://kafka",
        {
            "sub": "0oa1b2c3d4OrdersClient",  # client-credentials: the client id
            "cid": "0oa1b2c3d4OrdersClient",
            "uid": None,
            "scp": ["kafka.write", "kafka.read"],
            "groups": ["Kafka Writers"],
        },
        {"OAUTHBEARER_PRINCIPAL_CLAIM": "uid,cid", "OAUTHBEARER_GROUPS_CLAIM": "groups"},
        "0oa1b2c3d4OrdersClient",
        ["Kafka Writers"],
        "kafka.write kafka.read",
    ),
    Case(
        "auth0",
        "https://tenant.eu.auth0.com/",
        "https://kafka.example",
        {
            "sub": "AbCdEf123@clients",
            "azp": "AbCdEf123",
            "gty": "client-credentials",
            "permissions": ["write:orders", "read:orders"],
            "scope": "write:orders read:orders",
            "https://kafka.example/groups": ["orders"],
        },
        AUTH0,
        "AbCdEf123@clients",
        ["orders"],
        "write:orders read:orders",
    ),
    Case(
        "cognito",
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf",
        "ignored",  # Cognito access tokens carry no aud; see below
        {
            "sub": "8f1e…",
            "client_id": "3n4b5c6d7orders",
            "username": "alice",
            "cognito:groups": ["kafka-admins"],
            "token_use": "access",
            "scope": "kafka/write",
            "aud": None,
        },
        {
            "OAUTHBEARER_PRINCIPAL_CLAIM": "username,client_id",
            "OAUTHBEARER_GROUPS_CLAIM": "cognito:groups",
        },
        "alice",
        ["kafka-admins"],
        "kafka/write",
    ),
    Case(
        "fusionauth",
        "https://auth.example.com",
        "85a03867-dccf-4882-adde-1a79aeec50df",
        {
            "sub": "2f5a4c7e-user-id",
            "applicationId": "85a03867-dccf-4882-adde-1a79aeec50df",
            "email": "alice@example.com",
            "roles": ["kafka-producer"],
            "scope": "offline_access",
        },
        {"OAUTHBEARER_PRINCIPAL_CLAIM": "email,sub", "OAUTHBEARER_GROUPS_CLAIM": "roles"},
        "alice@example.com",
        ["kafka-producer"],
        "offline_access",
    ),
]


def settings_for(case: Case) -> SidecarSettings:
    rules = SidecarSettings.from_env(
        {"OAUTHBEARER_JWKS_URL": JWKS_URL, "OAUTHBEARER_CALLERS": "b:x", **case.env}
    ).claim_rules
    audiences = () if case.claims.get("aud", "") is None else (case.aud,)
    return replace(make_settings(issuer=case.iss, audiences=audiences), claim_rules=rules)


def expect(answer: dict[str, Any], case: Case) -> None:
    assert answer["active"] is True
    assert answer["sub"] == case.sub
    assert answer.get("groups") == case.groups
    assert answer.get("scope") == case.scope
    assert answer["exp"] == int(NOW) + 300  # the original claims pass through, normalised
    for name, value in case.claims.items():
        if name not in ("sub", "scope", "aud") and value is not None:
            assert answer[name] == value, name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_jwt_of_each_provider(
    case: Case, router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    # sign() adds a scope of its own: left out unless the provider's token has one.
    no_scope = {} if "scope" in case.claims else {"scope": None}
    token = sign(rsa_key, {"iss": case.iss, "aud": case.aud, **no_scope, **case.claims})
    async with running(settings_for(case), router, clock) as h:
        expect((await h.introspect(token)).json(), case)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_an_upstream_answer_of_each_provider(
    case: Case, router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    claims = {k: v for k, v in case.claims.items() if v is not None}
    answer = {"active": True, "iss": case.iss, "exp": int(NOW) + 300, "iat": int(NOW), **claims}
    router.post(UPSTREAM_URL).respond(200, json=answer)
    async with running(settings_for(case), router, clock) as h:
        expect((await h.introspect(f"opaque-{case.name}")).json(), case)


#: README.md's provider table: the row each provider's tested settings come from.
README_ROWS = {
    "Keycloak": "keycloak-user",
    "Entra ID (v1 and v2)": "entra-id-v1",
    "Okta": "okta",
    "Auth0": "auth0",
    "AWS Cognito": "cognito",
    "FusionAuth": "fusionauth",
}


def readme_sidecar_settings() -> dict[str, dict[str, str]]:
    """Each provider row's OAUTHBEARER_*=value settings, from its sidecar column."""
    readme = Path(__file__).resolve().parents[3] / "README.md"
    rows: dict[str, dict[str, str]] = {}
    for line in readme.read_text().splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) == 3 and cells[0] in README_ROWS:
            rows[cells[0]] = dict(re.findall(r"`(OAUTHBEARER_[A-Z_]+)=([^`]*)`", cells[2]))
    return rows


@pytest.mark.parametrize("provider", list(README_ROWS))
def test_the_readme_gives_the_settings_these_tests_verify(provider: str) -> None:
    """A row that told users something other than what is tested here once made every
    Entra ID v1 user the client application (appid) and every Auth0 user its azp."""
    (case,) = [c for c in CASES if c.name == README_ROWS[provider]]
    documented = readme_sidecar_settings()[provider]
    documented = {k: v.replace("<namespace>", "kafka.example") for k, v in documented.items()}
    assert documented == {k: v for k, v in case.env.items() if v}


async def test_a_groups_claim_that_is_missing_is_an_empty_list(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    router.post(UPSTREAM_URL).respond(
        200, json={"active": True, "sub": "svc", "exp": int(NOW) + 300}
    )
    rules = SidecarSettings.from_env(
        {
            "OAUTHBEARER_JWKS_URL": JWKS_URL,
            "OAUTHBEARER_CALLERS": "b:x",
            "OAUTHBEARER_GROUPS_CLAIM": "realm_access.roles",
        }
    ).claim_rules
    async with running(replace(make_settings(), claim_rules=rules), router, clock) as h:
        assert (await h.introspect("opaque-no-groups")).json()["groups"] == []


async def test_a_revocation_names_the_tokens_own_subject_not_the_normalised_principal(
    router: respx.MockRouter, clock: FakeClock, rsa_key: RSAKey
) -> None:
    """Keycloak's LOGOUT carries the user's id (the token's sub), while the broker sees
    preferred_username: the revocation must still reach the token."""
    (keycloak_user,) = [c for c in CASES if c.name == "keycloak-user"]
    router.get(JWKS_URL).respond(200, json=jwks_of(rsa_key))
    token = sign(
        rsa_key, {"iss": keycloak_user.iss, "aud": keycloak_user.aud, **keycloak_user.claims}
    )
    settings = replace(settings_for(keycloak_user), event_callers=Secret("kc:fake-secret"))
    async with running(settings, router, clock) as h:
        assert (await h.introspect(token)).json()["sub"] == "alice"
        response = await h.client.post(
            "/revocations", json={"sub": keycloak_user.claims["sub"]}, auth=("kc", "fake-secret")
        )
        assert response.json() == {"outcomes": ["applied"]}
        assert (await h.introspect(token)).json() == {"active": False}
