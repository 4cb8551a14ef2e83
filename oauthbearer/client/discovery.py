"""Find the token endpoint from an issuer (RFC 8414, OpenID Connect Discovery 1.0).

The HTTP GET is injected (the fetcher owns HTTP and its error translation); this module
only knows where the metadata lives and what a trustworthy document looks like. A client
that presents a certificate takes ``mtls_endpoint_aliases.token_endpoint`` when the
document has one (RFC 8705 §5).

Example:
    >>> metadata_urls("https://idp.example/realms/kafka")  # doctest: +NORMALIZE_WHITESPACE
    ['https://idp.example/realms/kafka/.well-known/openid-configuration',
     'https://idp.example/.well-known/oauth-authorization-server/realms/kafka']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from oauthbearer._env import checked_url
from oauthbearer._json import NOT_JSON
from oauthbearer.client.variables import V_ISSUER
from oauthbearer.errors import ConfigurationError, TokenEndpointError, TokenResponseError

__all__ = ["discover_token_endpoint", "metadata_urls"]

#: ``get(url) -> (status, body)``; raises TokenRequestError on network failure.
Getter = Callable[[str], tuple[int, bytes]]


def metadata_urls(issuer: str) -> list[str]:
    """Where to look, in order: OpenID configuration, then RFC 8414 metadata.

    OpenID Connect Discovery §4 appends ``/.well-known/openid-configuration`` to the issuer;
    RFC 8414 §3.1 inserts ``/.well-known/oauth-authorization-server`` between host and path.
    OpenID first: it is what Keycloak, Okta, Entra ID and most others serve.
    """
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    oidc = urlunsplit(
        (parts.scheme, parts.netloc, path + "/.well-known/openid-configuration", "", "")
    )
    oauth = urlunsplit(
        (parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", "")
    )
    return [oidc, oauth]


def discover_token_endpoint(issuer: str, get: Getter, *, mutual_tls: bool = False) -> str:
    """Fetch the issuer's metadata and return its validated token endpoint.

    ``mutual_tls``: the client presents a certificate, so the mTLS alias wins when the
    document names one (RFC 8705 §5: such a client MUST use it in preference).

    Example:
        >>> doc = b'''{"issuer": "https://idp.example", "token_endpoint": "https://idp.example/t",
        ...          "mtls_endpoint_aliases": {"token_endpoint": "https://mtls.idp.example/t"}}'''
        >>> discover_token_endpoint("https://idp.example", lambda url: (200, doc))
        'https://idp.example/t'
        >>> discover_token_endpoint("https://idp.example", lambda url: (200, doc), mutual_tls=True)
        'https://mtls.idp.example/t'
    """
    host = urlsplit(issuer).netloc
    tried: list[tuple[str, int]] = []
    for url in metadata_urls(issuer):
        status, body = get(url)
        if status == 200:
            return _token_endpoint(body, issuer, host, mutual_tls=mutual_tls)
        tried.append((urlsplit(url).path, status))
        # A client error means "not here": try the other well-known location. Gateways in
        # front of an identity provider answer unknown paths with 403, 401 or 400 as often
        # as 404. Anything else (5xx, 429) is the server's trouble, retried as a whole.
        if not 400 <= status < 500 or status == 429:
            raise TokenEndpointError(host, status, None, f"discovery GET {tried[-1][0]}")
    # The status that says most: one other than 404 (a 403 hints at a gateway's rules).
    status = next((s for _, s in tried if s != 404), tried[-1][1])
    where = ", ".join(f"{path} HTTP {code}" for path, code in tried)
    raise TokenEndpointError(host, status, None, f"discovery: no metadata document ({where})")


def _token_endpoint(body: bytes, issuer: str, host: str, *, mutual_tls: bool) -> str:
    try:
        doc = json.loads(body)
    except NOT_JSON:
        raise TokenResponseError(f"discovery document at {host} is not JSON") from None
    if not isinstance(doc, dict):
        raise TokenResponseError(f"discovery document at {host} is not a JSON object")
    # RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer in the document MUST be identical to
    # the one used to find it; otherwise an attacker's metadata could redirect our secrets.
    if doc.get("issuer") != issuer:
        raise ConfigurationError(
            V_ISSUER,
            f"the server calls itself {doc.get('issuer')!r}, not {issuer!r} "
            "(RFC 8414 §3.3 requires them identical; check the trailing slash)",
        )
    if mutual_tls:
        aliases = doc.get("mtls_endpoint_aliases")
        if aliases is not None and not isinstance(aliases, dict):
            raise TokenResponseError(
                f"discovery document at {host} has mtls_endpoint_aliases that is not an object"
            )
        # RFC 8705 §5: without an alias for it, the conventional endpoint serves mTLS too.
        if aliases is not None and "token_endpoint" in aliases:
            return _checked(aliases["token_endpoint"], issuer, host, "mtls_endpoint_aliases.")
    return _checked(doc.get("token_endpoint"), issuer, host, "")


def _checked(endpoint: object, issuer: str, host: str, where: str) -> str:
    """``endpoint`` if it is an http(s) URL, and https whenever the issuer is."""
    if not isinstance(endpoint, str) or _scheme(endpoint) not in ("http", "https"):
        raise TokenResponseError(
            f"discovery document at {host} has no usable {where}token_endpoint"
        )
    if urlsplit(issuer).scheme == "https" and urlsplit(endpoint).scheme != "https":
        # Never let a document fetched over TLS send our credentials in clear text.
        raise TokenResponseError(
            f"discovery document at {host} names a non-https {where}token_endpoint"
        )
    return endpoint


def _scheme(url: str) -> str | None:
    """The scheme of a URL the server named, None for one that is none (``https://[::1``
    raised a bare ValueError out of the fetch)."""
    try:
        return checked_url(url).scheme
    except ValueError:
        return None
