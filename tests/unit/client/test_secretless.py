"""Secretless clients: a platform-written JWT as client_assertion, and Azure workload identity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import ConfigurationError

from .conftest import TOKEN_URL, FakeClock, token_response

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
AZURE_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"


@pytest.fixture
def idp() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN_URL).mock(return_value=token_response())
        router.post(AZURE_URL).mock(return_value=token_response())
        yield router


def sent_form(router: respx.MockRouter, index: int) -> dict[str, str]:
    return dict(parse_qsl(router.calls[index].request.content.decode()))


def test_the_assertion_file_is_sent_and_re_read_when_the_platform_rotates_it(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("eyJ.projected-1.sig\n")
    settings = ClientSettings.from_env(
        {
            "OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL,
            "OAUTHBEARER_LOGIN_CLIENT_ID": "orders",
            "OAUTHBEARER_LOGIN_CLIENT_ASSERTION_FILE": str(token_file),
            "OAUTH_LOGIN_SCOPE": "kafka",
        }
    )
    assert settings.auth_method == "client_assertion"  # inferred from the file
    fetcher = TokenFetcher(settings, http_client=httpx.Client(), clock=clock)
    fetcher.fetch()
    token_file.write_text("eyJ.projected-2-after-rotation.sig\n")
    fetcher.fetch()
    first, second = sent_form(idp, 0), sent_form(idp, 1)
    assert first == {
        "grant_type": "client_credentials",
        "scope": "kafka",
        "client_id": "orders",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": "eyJ.projected-1.sig",
    }
    assert second["client_assertion"] == "eyJ.projected-2-after-rotation.sig"
    assert "authorization" not in idp.calls[0].request.headers


def test_azure_workload_identity_needs_only_the_scope(
    idp: respx.MockRouter, clock: FakeClock, tmp_path: Path
) -> None:
    federated = tmp_path / "azure-identity-token"
    federated.write_text("eyJ.federated.sig")
    settings = ClientSettings.from_env(
        {
            "AZURE_CLIENT_ID": "client-1",
            "AZURE_TENANT_ID": "tenant-1",
            "AZURE_FEDERATED_TOKEN_FILE": str(federated),
            "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
            "OAUTH_LOGIN_SCOPE": "https://ns.servicebus.windows.net/.default",
        }
    )
    assert (settings.token_url, settings.client_id, settings.auth_method) == (
        AZURE_URL,
        "client-1",
        "client_assertion",
    )
    TokenFetcher(settings, http_client=httpx.Client(), clock=clock).fetch()
    body = sent_form(idp, 0)
    assert body["client_assertion"] == "eyJ.federated.sig"
    assert body["scope"] == "https://ns.servicebus.windows.net/.default"


def test_an_issuer_of_the_applications_own_wins_over_azures(tmp_path: Path) -> None:
    # Workload identity injects AZURE_* into every pod; an issuer to discover says where
    # this application's tokens come from.
    federated = tmp_path / "azure-identity-token"
    federated.write_text("eyJ.federated.sig")
    settings = ClientSettings.from_env(
        {
            "OAUTHBEARER_LOGIN_ISSUER": "https://idp.example/realms/kafka",
            "OAUTHBEARER_LOGIN_CLIENT_ID": "orders",
            "OAUTHBEARER_LOGIN_CLIENT_SECRET": "fake-orders-secret",
            "AZURE_CLIENT_ID": "client-1",
            "AZURE_TENANT_ID": "tenant-1",
            "AZURE_FEDERATED_TOKEN_FILE": str(federated),
        }
    )
    assert settings.token_url is None
    assert settings.issuer == "https://idp.example/realms/kafka"
    assert settings.auth_method == "client_secret_basic"


def test_configured_login_variables_win_over_azures(tmp_path: Path) -> None:
    federated = tmp_path / "azure-identity-token"
    federated.write_text("eyJ.federated.sig")
    settings = ClientSettings.from_env(
        {
            "OAUTH_LOGIN_SERVER": "idp.example",
            "OAUTH_LOGIN_ENDPOINT": "/token",
            "OAUTH_AUTHORIZATION": "Basic ZmFrZTpmYWtl",
            "AZURE_CLIENT_ID": "client-1",
            "AZURE_TENANT_ID": "tenant-1",
            "AZURE_FEDERATED_TOKEN_FILE": str(federated),
        }
    )
    assert settings.token_url == "https://idp.example/token"
    assert settings.auth_method == "authorization_header"


@pytest.mark.parametrize(
    ("drop", "variable"),
    [("AZURE_TENANT_ID", "AZURE_TENANT_ID"), ("AZURE_CLIENT_ID", "AZURE_CLIENT_ID")],
)
def test_incomplete_azure_variables_name_what_is_missing(
    tmp_path: Path, drop: str, variable: str
) -> None:
    federated = tmp_path / "azure-identity-token"
    federated.write_text("eyJ.federated.sig")
    env = {
        "AZURE_CLIENT_ID": "client-1",
        "AZURE_TENANT_ID": "tenant-1",
        "AZURE_FEDERATED_TOKEN_FILE": str(federated),
    }
    del env[drop]
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.from_env(env)
    assert info.value.variable == variable


def test_an_unreadable_assertion_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.from_env(
            {
                "OAUTHBEARER_LOGIN_TOKEN_URL": TOKEN_URL,
                "OAUTHBEARER_LOGIN_CLIENT_ASSERTION_FILE": str(tmp_path / "missing"),
            }
        )
    assert info.value.variable == "OAUTHBEARER_LOGIN_CLIENT_ASSERTION_FILE"


# --- Azure workload identity is held to what azure-identity and Entra ID require ---------
EVENT_HUBS_SCOPE = "https://ns.servicebus.windows.net/.default"


def azure_env(tmp_path: Path, **values: str) -> dict[str, str]:
    federated = tmp_path / "azure-identity-token"
    federated.write_text("eyJ.federated.sig")
    env = {
        "AZURE_CLIENT_ID": "client-1",
        "AZURE_TENANT_ID": "tenant-1",
        "AZURE_FEDERATED_TOKEN_FILE": str(federated),
        "OAUTH_LOGIN_SCOPE": EVENT_HUBS_SCOPE,
    }
    env.update(values)
    return {name: value for name, value in env.items() if value}


@pytest.mark.parametrize(
    "scope",
    [
        "",  # Entra v2 client_credentials answers AADSTS900144 (no scope) at the first fetch
        "https://ns.servicebus.windows.net",  # the resource without /.default
        "api://orders/write",  # a delegated scope: not for client credentials
        f"{EVENT_HUBS_SCOPE} offline_access",
    ],
)
def test_azure_needs_a_resource_default_scope(tmp_path: Path, scope: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.from_env(azure_env(tmp_path, OAUTH_LOGIN_SCOPE=scope))
    assert info.value.variable == "OAUTH_LOGIN_SCOPE"
    assert "/.default" in str(info.value)
    assert "client credentials" in str(info.value)


@pytest.mark.parametrize(
    "authority",
    ["http://login.microsoftonline.com/", "HTTP://login.microsoftonline.com", "ftp://login.ms"],
)
def test_azure_refuses_an_authority_without_tls(tmp_path: Path, authority: str) -> None:
    # The federated token is the credential: it must not travel in clear text.
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.from_env(azure_env(tmp_path, AZURE_AUTHORITY_HOST=authority))
    assert info.value.variable == "AZURE_AUTHORITY_HOST"
    assert "https" in str(info.value)


@pytest.mark.parametrize("authority", ["https://[x", "login.microsoftonline.com:port"])
def test_azure_names_the_variable_for_an_authority_that_is_no_url(
    tmp_path: Path, authority: str
) -> None:
    # urlsplit's ValueError escaped bare, naming nothing.
    with pytest.raises(ConfigurationError) as info:
        ClientSettings.from_env(azure_env(tmp_path, AZURE_AUTHORITY_HOST=authority))
    assert info.value.variable == "AZURE_AUTHORITY_HOST"


US_GOVERNMENT_URL = "https://login.microsoftonline.us/tenant-1/oauth2/v2.0/token"


@pytest.mark.parametrize(
    ("authority", "token_url"),
    [
        # azure-identity adds https:// to a bare host (sovereign clouds are often set so)
        ("login.microsoftonline.us", US_GOVERNMENT_URL),
        ("login.microsoftonline.us/", US_GOVERNMENT_URL),
        ("https://login.microsoftonline.us/", US_GOVERNMENT_URL),
        ("", AZURE_URL),
    ],
)
def test_azure_authority_host_is_read_as_azure_identity_reads_it(
    tmp_path: Path, authority: str, token_url: str
) -> None:
    settings = ClientSettings.from_env(azure_env(tmp_path, AZURE_AUTHORITY_HOST=authority))
    assert settings.token_url == token_url
    assert settings.scope == EVENT_HUBS_SCOPE
