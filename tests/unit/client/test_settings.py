"""ClientSettings: jairsjunior's names read as that project reads them; errors name variables."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from joserfc.jwk import RSAKey

from oauthbearer._env import IGNORED_SETTINGS
from oauthbearer._secret import FileSecret, Secret
from oauthbearer.client import settings as settings_module
from oauthbearer.client.azure import AZURE_VARIABLES
from oauthbearer.client.provider import TokenCache, TokenProvider
from oauthbearer.client.settings import (
    CLIENT_VARIABLES,
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
    ClientSettings,
)
from oauthbearer.errors import ConfigurationError

JAIRSJUNIOR = {
    "OAUTH_LOGIN_SERVER": "idp.example:8443",
    "OAUTH_LOGIN_ENDPOINT": "/oauth2/token",
    "OAUTH_LOGIN_GRANT_TYPE": "client_credentials",
    "OAUTH_LOGIN_SCOPE": "kafka",
    "OAUTH_AUTHORIZATION": "Basic a2Fma2E6ZmFrZQ==",
}


def test_jairsjunior_block_builds_https_url_and_verbatim_header() -> None:
    s = ClientSettings.from_env(JAIRSJUNIOR)
    assert s.token_url == "https://idp.example:8443/oauth2/token"
    assert s.grant_type == "client_credentials"
    assert s.scope == "kafka"
    assert s.auth_method == "authorization_header"
    assert s.authorization == Secret("Basic a2Fma2E6ZmFrZQ==")


@pytest.mark.parametrize(
    ("flag", "scheme"), [("false", "http"), ("FALSE", "http"), ("True", "https")]
)
def test_with_ssl_switches_scheme(flag: str, scheme: str) -> None:
    s = ClientSettings.from_env({**JAIRSJUNIOR, "OAUTH_WITH_SSL": flag})
    assert s.token_url == f"{scheme}://idp.example:8443/oauth2/token"


def test_with_ssl_refuses_other_words() -> None:
    with pytest.raises(ConfigurationError, match=r"^OAUTH_WITH_SSL: must be true or false"):
        ClientSettings.from_env({**JAIRSJUNIOR, "OAUTH_WITH_SSL": "yes"})


def test_endpoint_without_leading_slash_is_joined_correctly() -> None:
    s = ClientSettings.from_env({**JAIRSJUNIOR, "OAUTH_LOGIN_ENDPOINT": "token"})
    assert s.token_url == "https://idp.example:8443/token"


def test_a_server_with_a_context_root_is_joined_as_jairsjunior_joins_it() -> None:
    """An old Keycloak's block: OAUTH_LOGIN_SERVER=host:8080/auth, as it works there."""
    s = ClientSettings.from_env(
        {
            **JAIRSJUNIOR,
            "OAUTH_LOGIN_SERVER": "kc.example:8080/auth/",
            "OAUTH_LOGIN_ENDPOINT": "/realms/kafka/protocol/openid-connect/token",
        }
    )
    assert s.token_url == "https://kc.example:8080/auth/realms/kafka/protocol/openid-connect/token"


def test_grant_type_defaults_to_client_credentials() -> None:
    env = {k: v for k, v in JAIRSJUNIOR.items() if k != "OAUTH_LOGIN_GRANT_TYPE"}
    assert ClientSettings.from_env(env).grant_type == "client_credentials"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "OAUTH_LOGIN_SERVER"),
        ({"OAUTH_LOGIN_SERVER": "https://idp.example"}, "OAUTH_LOGIN_SERVER"),
        ({"OAUTH_LOGIN_SERVER": "idp.example"}, "OAUTH_LOGIN_ENDPOINT"),
        ({"OAUTH_LOGIN_ENDPOINT": "/token"}, "OAUTH_LOGIN_SERVER"),
        ({**JAIRSJUNIOR, "OAUTH_LOGIN_GRANT_TYPE": "implicit"}, "OAUTH_LOGIN_GRANT_TYPE"),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_TOKEN_URL": "https://other.example/token"},
            "OAUTHBEARER_LOGIN_TOKEN_URL",
        ),
        ({"OAUTHBEARER_LOGIN_TOKEN_URL": "ftp://idp/token"}, "OAUTHBEARER_LOGIN_TOKEN_URL"),
        ({"OAUTHBEARER_LOGIN_TOKEN_URL": "https://u:p@idp/t"}, "OAUTHBEARER_LOGIN_TOKEN_URL"),
        (
            {
                "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
                "OAUTHBEARER_LOGIN_ISSUER": "https://idp",
            },
            "OAUTHBEARER_LOGIN_ISSUER",
        ),
        ({"OAUTHBEARER_LOGIN_ISSUER": "https://idp/?x=1"}, "OAUTHBEARER_LOGIN_ISSUER"),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_AUTH_METHOD": "client_secret_post"},
            "OAUTH_AUTHORIZATION",
        ),
        (
            {
                "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
                "OAUTHBEARER_LOGIN_CLIENT_SECRET": "x",
            },
            "OAUTHBEARER_LOGIN_CLIENT_ID",
        ),
        (
            {
                "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
                "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka",
                "OAUTHBEARER_LOGIN_AUTH_METHOD": "client_secret_post",
            },
            "OAUTHBEARER_LOGIN_CLIENT_SECRET",
        ),
        (
            {
                "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
                "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka",
                "OAUTHBEARER_LOGIN_AUTH_METHOD": "private_key_jwt",
            },
            "OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE",
        ),
        (
            {
                "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
                "OAUTHBEARER_LOGIN_CLIENT_ID": "kafka",
                "OAUTHBEARER_LOGIN_AUTH_METHOD": "tls_client_auth",
            },
            "OAUTHBEARER_LOGIN_CERT_FILE",
        ),
        (
            {
                "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
                "OAUTHBEARER_LOGIN_AUTH_METHOD": "magic",
            },
            "OAUTHBEARER_LOGIN_AUTH_METHOD",
        ),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_CA_FILE": "/nonexistent/ca.pem"},
            "OAUTHBEARER_LOGIN_CA_FILE",
        ),
        ({**JAIRSJUNIOR, "OAUTH_LOGIN_GRANT_TYPE": "password"}, "OAUTHBEARER_LOGIN_USERNAME"),
        (
            {
                **JAIRSJUNIOR,
                "OAUTH_LOGIN_GRANT_TYPE": "password",
                "OAUTHBEARER_LOGIN_USERNAME": "u",
            },
            "OAUTHBEARER_LOGIN_PASSWORD",
        ),
        (
            {**JAIRSJUNIOR, "OAUTH_LOGIN_GRANT_TYPE": "refresh_token"},
            "OAUTHBEARER_LOGIN_REFRESH_TOKEN",
        ),
        (
            {**JAIRSJUNIOR, "OAUTH_LOGIN_GRANT_TYPE": "jwt-bearer"},
            "OAUTHBEARER_LOGIN_ASSERTION_FILE",
        ),
        (
            {**JAIRSJUNIOR, "OAUTH_LOGIN_GRANT_TYPE": "token-exchange"},
            "OAUTHBEARER_LOGIN_SUBJECT_TOKEN_FILE",
        ),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_EXTRA_PARAMS": "grant_type=x"},
            "OAUTHBEARER_LOGIN_EXTRA_PARAMS",
        ),
        ({**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_EXTRA_PARAMS": "a"}, "OAUTHBEARER_LOGIN_EXTRA_PARAMS"),
        ({**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_RESOURCE": "not-a-uri"}, "OAUTHBEARER_LOGIN_RESOURCE"),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_SASL_EXTENSIONS": "auth=x"},
            "OAUTHBEARER_LOGIN_SASL_EXTENSIONS",
        ),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_REFRESH_FRACTION": "1.5"},
            "OAUTHBEARER_LOGIN_REFRESH_FRACTION",
        ),
        (
            # 0.05 ± 0.2: a refresh drawn before issuance, every call a fetch
            {
                **JAIRSJUNIOR,
                "OAUTHBEARER_LOGIN_REFRESH_FRACTION": "0.05",
                "OAUTHBEARER_LOGIN_REFRESH_JITTER": "0.2",
            },
            "OAUTHBEARER_LOGIN_REFRESH_JITTER",
        ),
        # URLs that urlsplit refuses (a bare ValueError naming nothing), or that only the
        # first fetch found out about (a port that is none, a space, a NUL).
        *(
            ({"OAUTHBEARER_LOGIN_TOKEN_URL": url}, "OAUTHBEARER_LOGIN_TOKEN_URL")
            for url in (
                "https://[::1/t",
                "https://idp.example:abc/t",
                "https://idp.example:99999/t",
                "https://id p.example/t",
                "https://idp.example/t\x00x",
            )
        ),
        ({"OAUTHBEARER_LOGIN_ISSUER": "https://[::1"}, "OAUTHBEARER_LOGIN_ISSUER"),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_RESOURCE": "http://[x"},
            "OAUTHBEARER_LOGIN_RESOURCE",
        ),
        ({**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_TIMEOUT": "30"}, "OAUTHBEARER_LOGIN_TIMEOUT"),
        ({**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_TIMEOUT": "soon"}, "OAUTHBEARER_LOGIN_TIMEOUT"),
        (
            {**JAIRSJUNIOR, "OAUTHBEARER_LOGIN_AUTHORIZATION_FILE": "/x"},
            "OAUTH_AUTHORIZATION",
        ),
        (
            {
                **{k: v for k, v in JAIRSJUNIOR.items() if k != "OAUTH_AUTHORIZATION"},
                "OAUTHBEARER_LOGIN_AUTHORIZATION_FILE": "/nonexistent/auth",
            },
            "OAUTHBEARER_LOGIN_AUTHORIZATION_FILE",
        ),
    ],
)
def test_misconfiguration_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.from_env(env)
    assert info.value.variable == variable
    assert str(info.value).startswith(variable + ":")


def test_issuer_alone_means_discovery() -> None:
    s = ClientSettings.from_env({"OAUTHBEARER_LOGIN_ISSUER": "https://idp.example/realms/k"})
    assert s.token_url is None
    assert s.issuer == "https://idp.example/realms/k"


def test_auth_method_is_inferred(tmp_path: Path) -> None:
    base = {"OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t", "OAUTHBEARER_LOGIN_CLIENT_ID": "k"}
    assert ClientSettings.from_env(base).auth_method == "none"
    secret = {**base, "OAUTHBEARER_LOGIN_CLIENT_SECRET": "s"}
    assert ClientSettings.from_env(secret).auth_method == "client_secret_basic"
    key = tmp_path / "key.pem"
    key.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    pk = {**base, "OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE": str(key)}
    s = ClientSettings.from_env(pk)
    assert (s.auth_method, s.assertion_alg) == ("private_key_jwt", "RS256")


def test_private_key_must_be_a_private_pem(tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048)
    public = tmp_path / "public.pem"
    public.write_bytes(key.as_pem(private=False))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key")
    base = {"OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t", "OAUTHBEARER_LOGIN_CLIENT_ID": "k"}
    for path, hint in ((public, "public key"), (garbage, "not a PEM")):
        with pytest.raises(ConfigurationError, match=hint) as info:
            ClientSettings.from_env({**base, "OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE": str(path)})
        assert info.value.variable == "OAUTHBEARER_LOGIN_PRIVATE_KEY_FILE"


def test_client_secret_file_becomes_a_file_secret(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-file\n")
    s = ClientSettings.from_env(
        {
            "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
            "OAUTHBEARER_LOGIN_CLIENT_ID": "k",
            "OAUTHBEARER_LOGIN_CLIENT_SECRET_FILE": str(secret),
        }
    )
    assert isinstance(s.client_secret, FileSecret)
    assert s.client_secret.reveal() == "from-file"


def test_full_new_variable_set_parses(tmp_path: Path) -> None:
    subject = tmp_path / "sa-token"
    subject.write_text("eyJzdWJqZWN0.dG9rZW4.c2ln")
    s = ClientSettings.from_env(
        {
            "OAUTHBEARER_LOGIN_TOKEN_URL": "https://idp/t",
            "OAUTH_LOGIN_GRANT_TYPE": "token-exchange",
            "OAUTHBEARER_LOGIN_SUBJECT_TOKEN_FILE": str(subject),
            "OAUTHBEARER_LOGIN_REQUESTED_TOKEN_TYPE": "urn:ietf:params:oauth:token-type:jwt",
            "OAUTHBEARER_LOGIN_AUDIENCE": "kafka-cluster",
            "OAUTHBEARER_LOGIN_RESOURCE": "https://kafka.example, urn:kafka:jwt",
            "OAUTHBEARER_LOGIN_EXTRA_PARAMS": "tenant=blue&x=a%20b",
            "OAUTHBEARER_LOGIN_SASL_EXTENSIONS": "logicalCluster=lkc-123,identityPoolId=pool-9",
            "OAUTHBEARER_LOGIN_PRINCIPAL_CLAIM": "azp",
            "OAUTHBEARER_LOGIN_REFRESH_FRACTION": "0.7",
            "OAUTHBEARER_LOGIN_TIMEOUT": "3",
        }
    )
    assert s.grant_type == GRANT_TOKEN_EXCHANGE
    assert s.resources == ("https://kafka.example", "urn:kafka:jwt")
    assert s.extra_params == (("tenant", "blue"), ("x", "a b"))
    assert s.sasl_extensions == (("logicalCluster", "lkc-123"), ("identityPoolId", "pool-9"))
    assert (s.principal_claim, s.refresh_fraction, s.timeout) == ("azp", 0.7, 3.0)


def test_grant_aliases_normalise_to_urns(tmp_path: Path) -> None:
    assertion = tmp_path / "assertion"
    assertion.write_text("a.b.c")
    s = ClientSettings(
        token_url="https://idp/t", grant_type="jwt_bearer", assertion=FileSecret(assertion)
    )
    assert s.grant_type == GRANT_JWT_BEARER


def test_settings_repr_masks_every_secret() -> None:
    s = ClientSettings(
        token_url="https://idp/t",
        client_id="kafka",
        client_secret=Secret("super-secret-value"),
        grant_type="password",
        username="alice",
        password=Secret("alice-password-value"),
    )
    assert "super-secret-value" not in repr(s)
    assert "alice-password-value" not in repr(s)


def test_identity_separates_configurations_and_matches_equal_ones() -> None:
    a = ClientSettings(token_url="https://idp/t", client_id="k", client_secret=Secret("s"))
    b = ClientSettings(token_url="https://idp/t", client_id="k", client_secret=Secret("s"))
    c = ClientSettings(token_url="https://idp/t", client_id="k", client_secret=Secret("s2"))
    d = ClientSettings(
        token_url="https://idp/t", client_id="k", client_secret=Secret("s"), scope="x"
    )
    assert a.identity() == b.identity()
    assert len({a.identity(), c.identity(), d.identity()}) == 3


def _changed(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "-changed"
    if isinstance(value, tuple):
        return (*value, ("changed", "changed"))
    return Secret("changed")  # None, or a secret of any kind


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(ClientSettings)])
def test_identity_takes_every_field_but_those_applied_per_provider(name: str) -> None:
    # Walks the fields, so a field added later is covered: client_assertion was once
    # missing, and two workloads differing only by their assertion file shared a token.
    base = ClientSettings(token_url="https://idp/t", client_id="k", client_secret=Secret("s"))
    other = copy.copy(base)
    object.__setattr__(other, name, _changed(getattr(base, name)))
    per_provider = {"sasl_extensions", "principal_claim", "deadline", "endpoint_variable"}
    assert (other.identity() == base.identity()) == (name in per_provider)


def test_providers_with_different_assertion_files_do_not_share_a_token(tmp_path: Path) -> None:
    cache = TokenCache()

    def idp(request: httpx.Request) -> httpx.Response:
        assertion = parse_qs(request.content.decode())["client_assertion"][0]
        return httpx.Response(200, json={"access_token": f"for-{assertion}", "expires_in": 300})

    tokens = []
    for name in ("workload-a", "workload-b"):
        path = tmp_path / name
        path.write_text(f"{name}.assertion.jwt")
        settings = ClientSettings(token_url="https://idp/t", client_assertion=FileSecret(path))
        http = httpx.Client(transport=httpx.MockTransport(idp))
        with TokenProvider(settings, http_client=http, cache=cache) as provider:
            tokens.append(provider.token().access_token)
    assert tokens == ["for-workload-a.assertion.jwt", "for-workload-b.assertion.jwt"]


def test_fraction_plus_jitter_must_stay_below_one() -> None:
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_REFRESH_JITTER"):
        ClientSettings(token_url="https://idp/t", refresh_fraction=0.9, refresh_jitter=0.1)


class _Recording(Mapping[str, str]):
    """An environment that remembers every name looked up."""

    def __init__(self, data: dict[str, str]) -> None:
        self._data = data
        self.seen: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.seen.add(key)
        return self._data[key]

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.seen.add(key)
        return self._data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def test_client_variables_lists_exactly_what_from_env_reads() -> None:
    env = _Recording(dict(JAIRSJUNIOR))
    ClientSettings.from_env(env)
    # jairsjunior settings read only to say they are ignored are not client variables.
    honoured = env.seen - IGNORED_SETTINGS
    assert honoured <= set(CLIENT_VARIABLES), honoured - set(CLIENT_VARIABLES)
    # and every listed name is one from_env actually looks at (Azure's injected ones only
    # when no endpoint is configured: tests/unit/client/test_secretless.py)
    expected = set(CLIENT_VARIABLES) - set(AZURE_VARIABLES)
    assert expected <= env.seen, expected - env.seen


def test_client_variables_use_only_the_allowed_prefixes() -> None:
    jairsjunior = {
        "OAUTH_LOGIN_SERVER",
        "OAUTH_LOGIN_ENDPOINT",
        "OAUTH_WITH_SSL",
        "OAUTH_LOGIN_GRANT_TYPE",
        "OAUTH_LOGIN_SCOPE",
        "OAUTH_AUTHORIZATION",
    }
    for name in CLIENT_VARIABLES:
        # Azure workload identity's names are the platform's, injected into the pod.
        allowed = name in jairsjunior or name in AZURE_VARIABLES
        assert allowed or name.startswith("OAUTHBEARER_LOGIN_"), name
    assert len(set(CLIENT_VARIABLES)) == len(CLIENT_VARIABLES)
    constants = {
        v
        for k, v in vars(settings_module).items()
        if re.fullmatch(r"V_[A-Z_]+", k) and isinstance(v, str)
    }
    listed = {n.removesuffix("_FILE") for n in CLIENT_VARIABLES} | set(CLIENT_VARIABLES)
    assert constants <= listed, constants - listed
