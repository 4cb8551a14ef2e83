"""One token request: build it, send it, turn the answer into a Token or one of our errors.

This is the only module of the client half that touches httpx, and the only place its
exceptions are translated (``raise … from exc``), so everything above it deals in
:mod:`oauthbearer.errors` alone. No caching or retrying here: that is the provider's job.

Example:
    >>> import httpx
    >>> from oauthbearer.client.settings import ClientSettings
    >>> def idp(request: httpx.Request) -> httpx.Response:
    ...     return httpx.Response(200, json={"access_token": "t0k3n", "expires_in": 600})
    >>> s = ClientSettings(token_url="https://idp.example/token")
    >>> f = TokenFetcher(s, http_client=httpx.Client(transport=httpx.MockTransport(idp)),
    ...                  clock=lambda: 0.0)
    >>> f.fetch().expires_at
    570.0
"""

from __future__ import annotations

import email.utils
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import httpx

from oauthbearer.client.client_auth import client_auth_for
from oauthbearer.client.discovery import discover_token_endpoint
from oauthbearer.client.grants import grant_for
from oauthbearer.client.redaction import redact, secret_spellings
from oauthbearer.client.rotation import RefreshTokens
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.token import Token, issued_refresh_token, token_answer, token_from_answer
from oauthbearer.client.variables import V_CA_FILE, V_CERT_FILE
from oauthbearer.errors import (
    ConfigurationError,
    TokenEndpointError,
    TokenRequestError,
)

__all__ = ["TokenFetcher", "build_http_client"]

logger = logging.getLogger("oauthbearer.client")

Clock = Callable[[], float]
_MAX_DESCRIPTION = 300  # error_description is server text; keep log lines bounded


def build_http_client(settings: ClientSettings) -> httpx.Client:
    """The default HTTP client: verifying TLS, the optional CA bundle and client certificate.

    Verification is never switched off; a private CA is added with ``ca_file`` instead.

    Example:
        >>> from oauthbearer.client.settings import ClientSettings
        >>> build_http_client(ClientSettings(token_url="https://idp.example/t")).close()
    """
    verify: ssl.SSLContext | bool = True
    if settings.ca_file is not None or settings.cert_file is not None:
        try:
            context = ssl.create_default_context(cafile=settings.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(V_CA_FILE, f"cannot load CA bundle: {exc}") from None
        if settings.cert_file is not None:
            try:
                context.load_cert_chain(settings.cert_file, settings.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    V_CERT_FILE, f"cannot load client certificate and key: {exc}"
                ) from None
        verify = context
    return httpx.Client(verify=verify, timeout=settings.timeout, follow_redirects=False)


class TokenFetcher:
    """Sends one token request per :meth:`fetch` call. Thread-safe.

    ``http_client`` is the test seam (``httpx.MockTransport`` or respx); when omitted the
    fetcher builds one from the settings and closes it in :meth:`close`.
    ``refresh_tokens``: where a rotated refresh token is kept; the provider passes its
    cache slot's, so that every provider sharing the slot sends the latest one.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        http_client: httpx.Client | None = None,
        clock: Clock = time.time,
        refresh_tokens: RefreshTokens | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._owns_http = http_client is None
        self._http = build_http_client(settings) if http_client is None else http_client
        self._grant = grant_for(settings, refresh_tokens)
        self._auth = client_auth_for(settings, clock=clock)
        self._discovery_lock = threading.Lock()
        self._token_url = settings.token_url
        source = settings.token_url or settings.issuer or ""
        self._host = urlsplit(source).netloc

    @property
    def endpoint_host(self) -> str:
        """``host[:port]`` of the token endpoint (or issuer), the only address we ever log."""
        return self._host

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # --- the request -------------------------------------------------------------------
    def fetch(self, timeout: float | None = None) -> Token:
        """Request a token; raises TokenRequestError, TokenEndpointError or TokenResponseError.

        After ``invalid_client`` the credentials are re-read from their files, and the
        request is repeated once if they changed (a mounted Secret rotated under us).
        """
        budget = self._settings.timeout if timeout is None else min(timeout, self._settings.timeout)
        token_url = self._endpoint(budget)
        try:
            return self._request(token_url, budget)
        except TokenEndpointError as exc:
            if exc.error == "invalid_client" and self._auth.reload():
                logger.warning(
                    "token endpoint %s answered invalid_client; the credential file changed, "
                    "retrying once with the new value",
                    self._host,
                )
                return self._request(token_url, budget)
            if exc.status == 404:
                self._forget_discovery()
            raise
        except TokenRequestError:
            self._forget_discovery()  # the endpoint may have moved
            raise

    def _request(self, token_url: str, timeout: float) -> Token:
        form = self._grant.params()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        self._auth.apply(form, headers, token_url)
        response = self._send("POST", token_url, headers, urlencode(form).encode(), timeout)
        if not 200 <= response.status_code < 300:
            raise self._endpoint_error(response)
        payload = token_answer(response.content, endpoint_host=self._host)
        # Record a rotation before judging the rest: the server retired the refresh token
        # we sent whether or not we accept this access token (RFC 9700 §4.14.2), so losing
        # its successor would leave us only a revoked one to send.
        rotated = issued_refresh_token(payload)
        if rotated is not None:
            self._grant.refresh_token_issued(rotated)
        return token_from_answer(
            payload,
            now=self._clock(),
            endpoint_host=self._host,
            clock_skew=self._settings.clock_skew,
            max_lifetime=self._settings.max_lifetime,
        )

    def _send(
        self, method: str, url: str, headers: dict[str, str], content: bytes | None, timeout: float
    ) -> httpx.Response:
        # httpx timeouts are per phase, not per request. Half the budget for connecting
        # (TCP + TLS) and the whole for reading keeps one request under 1.5 x the budget:
        # 9 s at the 6 s maximum, inside confluent-kafka's 10 s constructor wait.
        bounds = httpx.Timeout(timeout, connect=timeout / 2, pool=timeout / 2)
        # The single translation boundary for httpx exceptions in the client half.
        try:
            return self._http.request(method, url, headers=headers, content=content, timeout=bounds)
        except httpx.TimeoutException as exc:
            raise TokenRequestError(self._host, f"timed out after {timeout:g} s") from exc
        except httpx.LocalProtocolError:
            # Its text quotes the offending request, header values included: never ours.
            raise TokenRequestError(
                self._host, "the request could not be written (a header value HTTP forbids)"
            ) from None
        except httpx.HTTPError as exc:
            said = redact(str(exc), secret_spellings(self._settings))
            raise TokenRequestError(self._host, f"{type(exc).__name__}: {said}") from exc
        except httpx.InvalidURL as exc:
            raise TokenRequestError(self._host, f"invalid URL: {exc}") from exc

    def _endpoint_error(self, response: httpx.Response) -> TokenEndpointError:
        error = description = None
        try:
            body = json.loads(response.content)
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = None
        if isinstance(body, dict):
            # RFC 6749 §5.2: error (REQUIRED), error_description (OPTIONAL), both ASCII.
            raw_error, raw_description = body.get("error"), body.get("error_description")
            # A server may echo the request back: our secrets are taken out first.
            spellings = secret_spellings(self._settings)
            if isinstance(raw_error, str):
                error = _printable(redact(raw_error, spellings), 80)
            if isinstance(raw_description, str):
                description = _printable(redact(raw_description, spellings), _MAX_DESCRIPTION)
        return TokenEndpointError(
            self._host,
            response.status_code,
            error,
            description,
            retry_after=_retry_after(response.headers.get("Retry-After"), self._clock()),
        )

    # --- discovery ---------------------------------------------------------------------
    def _endpoint(self, timeout: float) -> str:
        with self._discovery_lock:
            if self._token_url is None:
                issuer = self._settings.issuer or ""

                def get(url: str) -> tuple[int, bytes]:
                    headers = {"Accept": "application/json"}
                    response = self._send("GET", url, headers, None, timeout)
                    return response.status_code, response.content

                # A certificate (tls_client_auth, or any configured one) makes this a
                # mutual-TLS client: RFC 8705 §5 sends it to the mTLS alias, if any.
                mutual_tls = self._settings.cert_file is not None
                self._token_url = discover_token_endpoint(issuer, get, mutual_tls=mutual_tls)
                logger.info("discovered token endpoint %s from %s", self._token_url, issuer)
            return self._token_url

    def _forget_discovery(self) -> None:
        if self._settings.issuer is not None:
            with self._discovery_lock:
                self._token_url = None


def _printable(text: str, limit: int) -> str:
    cleaned = "".join(c if c.isprintable() else "?" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _retry_after(value: str | None, now: float) -> float | None:
    """RFC 9110 §10.2.3: ``Retry-After`` is delay-seconds or an HTTP-date."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
