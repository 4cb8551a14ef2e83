"""Token endpoint discovery from an issuer (RFC 8414, OpenID Connect Discovery)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx

from oauthbearer.client.discovery import metadata_urls
from oauthbearer.client.fetcher import TokenFetcher
from oauthbearer.client.settings import ClientSettings
from oauthbearer.errors import (
    ConfigurationError,
    TokenEndpointError,
    TokenRequestError,
    TokenResponseError,
)

from .conftest import FakeClock, token_response

ISSUER = "https://idp.example/realms/kafka"
OIDC = "https://idp.example/realms/kafka/.well-known/openid-configuration"
RFC8414 = "https://idp.example/.well-known/oauth-authorization-server/realms/kafka"
DISCOVERED = "https://idp.example/realms/kafka/protocol/openid-connect/token"


def make(clock: FakeClock, issuer: str = ISSUER) -> TokenFetcher:
    return TokenFetcher(ClientSettings(issuer=issuer), http_client=httpx.Client(), clock=clock)


def test_well_known_locations() -> None:
    assert metadata_urls(ISSUER) == [OIDC, RFC8414]
    assert metadata_urls("https://idp.example/") == [
        "https://idp.example/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server",
    ]


@respx.mock
def test_openid_configuration_is_used_once(clock: FakeClock) -> None:
    meta = respx.get(OIDC).mock(
        return_value=httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": DISCOVERED})
    )
    token = respx.post(DISCOVERED).mock(return_value=token_response())
    f = make(clock)
    f.fetch()
    f.fetch()
    assert meta.call_count == 1
    assert token.call_count == 2
    assert f.endpoint_host == "idp.example"


@respx.mock
def test_falls_back_to_rfc8414_metadata(clock: FakeClock) -> None:
    respx.get(OIDC).mock(return_value=httpx.Response(404))
    respx.get(RFC8414).mock(
        return_value=httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": DISCOVERED})
    )
    respx.post(DISCOVERED).mock(return_value=token_response("via-8414"))
    assert make(clock).fetch().access_token == "via-8414"


@respx.mock
def test_issuer_mismatch_is_refused_naming_the_variable(clock: FakeClock) -> None:
    respx.get(OIDC).mock(
        return_value=httpx.Response(
            200, json={"issuer": ISSUER + "/", "token_endpoint": DISCOVERED}
        )
    )
    with pytest.raises(ConfigurationError, match=r"^OAUTHBEARER_LOGIN_ISSUER: .*RFC 8414 §3.3"):
        make(clock).fetch()


@respx.mock
def test_https_issuer_cannot_point_to_plain_http(clock: FakeClock) -> None:
    respx.get(OIDC).mock(
        return_value=httpx.Response(
            200, json={"issuer": ISSUER, "token_endpoint": "http://idp.example/token"}
        )
    )
    with pytest.raises(TokenResponseError, match="non-https"):
        make(clock).fetch()


@pytest.mark.parametrize("refusal", [403, 401, 400, 405])
@respx.mock
def test_a_gateways_client_error_falls_back_to_rfc8414_too(clock: FakeClock, refusal: int) -> None:
    # Gateways in front of an identity provider answer unknown paths with other 4xx.
    respx.get(OIDC).mock(return_value=httpx.Response(refusal))
    respx.get(RFC8414).mock(
        return_value=httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": DISCOVERED})
    )
    respx.post(DISCOVERED).mock(return_value=token_response("via-8414"))
    assert make(clock).fetch().access_token == "via-8414"


@pytest.mark.parametrize("trouble", [500, 503, 429])
@respx.mock
def test_a_server_in_trouble_is_not_asked_elsewhere(clock: FakeClock, trouble: int) -> None:
    respx.get(OIDC).mock(return_value=httpx.Response(trouble))
    other = respx.get(RFC8414).mock(return_value=httpx.Response(404))
    with pytest.raises(TokenEndpointError, match=f"HTTP {trouble} .*discovery GET"):
        make(clock).fetch()
    assert other.call_count == 0


@respx.mock
def test_no_metadata_says_what_each_location_answered(clock: FakeClock) -> None:
    respx.get(OIDC).mock(return_value=httpx.Response(403))
    respx.get(RFC8414).mock(return_value=httpx.Response(404))
    with pytest.raises(TokenEndpointError) as raised:
        make(clock).fetch()
    assert raised.value.status == 403
    assert (
        "/realms/kafka/.well-known/openid-configuration HTTP 403, "
        "/.well-known/oauth-authorization-server/realms/kafka HTTP 404" in str(raised.value)
    )


@respx.mock
def test_no_metadata_anywhere(clock: FakeClock) -> None:
    respx.get(OIDC).mock(return_value=httpx.Response(404))
    respx.get(RFC8414).mock(return_value=httpx.Response(404))
    with pytest.raises(TokenEndpointError, match="no metadata document"):
        make(clock).fetch()


@respx.mock
def test_discovery_is_repeated_after_the_endpoint_fails(clock: FakeClock) -> None:
    meta = respx.get(OIDC).mock(
        return_value=httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": DISCOVERED})
    )
    respx.post(DISCOVERED).mock(
        side_effect=[httpx.ConnectError("moved"), token_response("after-move")]
    )
    f = make(clock)
    with pytest.raises(TokenRequestError, match="moved"):
        f.fetch()
    assert f.fetch().access_token == "after-move"
    assert meta.call_count == 2


@respx.mock
def test_a_slow_endpoint_keeps_its_discovered_address(clock: FakeClock) -> None:
    # A timeout means the server is there, only slow: forgetting the discovery made every
    # retry spend its budget on discovery again, and a slow server never gave a token.
    meta = respx.get(OIDC).mock(
        return_value=httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": DISCOVERED})
    )
    respx.post(DISCOVERED).mock(
        side_effect=[httpx.ReadTimeout("slow"), token_response("when-it-answered")]
    )
    f = make(clock)
    with pytest.raises(TokenRequestError, match="timed out"):
        f.fetch()
    assert f.fetch().access_token == "when-it-answered"
    assert meta.call_count == 1


# --- RFC 8705 §5: a client presenting a certificate uses the mTLS alias ------------------
MTLS_ALIAS = "https://mtls.idp.example/realms/kafka/protocol/openid-connect/token"


def mtls_client(clock: FakeClock, tmp_path: Path) -> TokenFetcher:
    """tls_client_auth with discovery; the injected client's TLS is its own business, so
    the certificate file only has to exist."""
    cert = tmp_path / "client.crt"
    cert.write_text("certificate")
    settings = ClientSettings(issuer=ISSUER, client_id="kafka", cert_file=str(cert))
    assert settings.auth_method == "tls_client_auth"
    return TokenFetcher(settings, http_client=httpx.Client(), clock=clock)


def metadata(**extra: object) -> httpx.Response:
    return httpx.Response(200, json={"issuer": ISSUER, "token_endpoint": DISCOVERED, **extra})


@respx.mock
def test_a_client_with_a_certificate_posts_to_the_mtls_alias(
    clock: FakeClock, tmp_path: Path
) -> None:
    respx.get(OIDC).mock(
        return_value=metadata(mtls_endpoint_aliases={"token_endpoint": MTLS_ALIAS})
    )
    conventional = respx.post(DISCOVERED).mock(return_value=httpx.Response(401))
    alias = respx.post(MTLS_ALIAS).mock(return_value=token_response("via-mtls"))
    assert mtls_client(clock, tmp_path).fetch().access_token == "via-mtls"
    assert alias.call_count == 1
    assert conventional.call_count == 0


@respx.mock
def test_a_client_without_a_certificate_keeps_the_conventional_endpoint(
    clock: FakeClock,
) -> None:
    respx.get(OIDC).mock(
        return_value=metadata(mtls_endpoint_aliases={"token_endpoint": MTLS_ALIAS})
    )
    respx.post(DISCOVERED).mock(return_value=token_response("conventional"))
    assert make(clock).fetch().access_token == "conventional"


@respx.mock
def test_without_a_token_endpoint_alias_the_conventional_one_serves_mtls(
    clock: FakeClock, tmp_path: Path
) -> None:
    # RFC 8705 §5: aliases are per endpoint; one missing means the conventional endpoint.
    respx.get(OIDC).mock(
        return_value=metadata(mtls_endpoint_aliases={"revocation_endpoint": MTLS_ALIAS})
    )
    respx.post(DISCOVERED).mock(return_value=token_response("conventional"))
    assert mtls_client(clock, tmp_path).fetch().access_token == "conventional"


@pytest.mark.parametrize(
    ("aliases", "problem"),
    [
        ({"token_endpoint": "http://mtls.idp.example/token"}, "non-https mtls_endpoint_aliases"),
        ({"token_endpoint": 42}, "no usable mtls_endpoint_aliases.token_endpoint"),
        # urlsplit refuses these (a bare ValueError out of the fetch), or they are no URL
        ({"token_endpoint": "https://[::1/t"}, "no usable mtls_endpoint_aliases.token_endpoint"),
        ({"token_endpoint": "https://i p/t"}, "no usable mtls_endpoint_aliases.token_endpoint"),
        (["https://mtls.idp.example/token"], "mtls_endpoint_aliases that is not an object"),
    ],
)
@respx.mock
def test_the_mtls_alias_is_checked_like_the_conventional_endpoint(
    clock: FakeClock, tmp_path: Path, aliases: object, problem: str
) -> None:
    respx.get(OIDC).mock(return_value=metadata(mtls_endpoint_aliases=aliases))
    with pytest.raises(TokenResponseError, match=problem):
        mtls_client(clock, tmp_path).fetch()


@respx.mock
def test_a_metadata_document_nested_too_deep_is_a_response_error(clock: FakeClock) -> None:
    respx.get(OIDC).mock(return_value=httpx.Response(200, content=b"[" * 100_000))
    with pytest.raises(TokenResponseError, match="is not JSON"):
        make(clock).fetch()
