"""One token fetch: build the request, send it, turn the answer into a Token or an error.

A fetch (discovery when it is due, the token request, one retry after ``invalid_client``)
has one budget, ``timeout``: each request gets what is left of it, and
:mod:`oauthbearer.client.exchange` ends each request by that deadline whatever the server
does. Those two, this one and :mod:`oauthbearer.client.http_clients` are all of the
client half that touches httpx, so everything above deals in :mod:`oauthbearer.errors`
alone. No caching or backoff here: that is the provider's job.

The TLS files (client certificate, key, CA bundle) are checked for a change before every
fetch and re-read after a refusal; a new HTTP client built from them takes over
(:mod:`oauthbearer.client.http_clients`). A client passed in by the caller is never
replaced.

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
import threading
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import httpx

from oauthbearer._json import NOT_JSON
from oauthbearer.client.client_auth import client_auth_for
from oauthbearer.client.discovery import discover_token_endpoint
from oauthbearer.client.exchange import Answer, Exchange, Wait
from oauthbearer.client.grants import grant_for
from oauthbearer.client.http_clients import (
    ClientSource,
    FixedClient,
    ReloadingClient,
)
from oauthbearer.client.redaction import redact, secret_spellings, sent_secrets
from oauthbearer.client.rotation import RefreshHeldBack, RefreshInFlight, RefreshTokens
from oauthbearer.client.settings import ClientSettings
from oauthbearer.client.tls_files import TlsFiles
from oauthbearer.client.token import Token, issued_refresh_token, token_answer, token_from_answer
from oauthbearer.errors import TokenEndpointError, TokenRequestError

__all__ = ["TokenFetcher"]

logger = logging.getLogger("oauthbearer.client")

Clock = Callable[[], float]
_MAX_DESCRIPTION = 300  # error_description is server text; keep log lines bounded
_MAX_SNIPPET = 120  # of an error answer that is not JSON
#: Where servers that do not follow RFC 6749 §5.2 put their reason, in that order.
_OTHER_DESCRIPTIONS = ("message", "detail", "error_message", "title")


class TokenFetcher:
    """Sends one token request per :meth:`fetch` call. Thread-safe.

    ``http_client`` is the test seam (``httpx.MockTransport`` or respx) or a client of the
    caller's own, used as it is: never replaced when the TLS files change, never closed
    here. When omitted the fetcher builds one from the settings, replaces it when the TLS
    files change (:mod:`oauthbearer.client.http_clients`) and closes it in :meth:`close`.
    ``http_source``: a client source shared with the caller, who closes it (the trust
    chain's token exchanger keeps one across its per-subject fetchers, so that renewed TLS
    files reach all of them); never closed here.
    ``refresh_tokens``: where a rotated refresh token is kept; the provider passes its
    cache slot's, so that every provider sharing the slot sends the latest one.
    ``monotonic``: the clock of the fetch's deadline; ``wait``: how the caller waits for
    an exchange (test seam, see :data:`~oauthbearer.client.exchange.Wait`).
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        http_client: httpx.Client | None = None,
        http_source: ClientSource | None = None,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        refresh_tokens: RefreshTokens | None = None,
        wait: Wait | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self._owns_http = http_source is None
        self._http: ClientSource
        if http_source is not None:
            self._http = http_source
        elif http_client is not None:
            self._http = FixedClient(http_client)
        else:
            self._http = ReloadingClient(TlsFiles.of(settings), timeout=settings.timeout)
        self._exchange = Exchange(
            self._http,
            monotonic=monotonic,
            wait=wait,
            secrets=lambda: secret_spellings(settings),
        )
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
        """Close the client the fetcher built (once requests still on it are over)."""
        if self._owns_http:
            self._http.close()

    # --- the request -------------------------------------------------------------------
    def fetch(self, timeout: float | None = None) -> Token:
        """Request a token; raises TokenRequestError, TokenEndpointError or TokenResponseError.

        The whole fetch ends within ``timeout`` seconds (at most the ``timeout`` setting):
        discovery, the token request and a retry share that one budget.

        Changed TLS files (a renewed client certificate) are taken up first. After
        ``invalid_client`` the credentials and TLS files are re-read, after a failed
        request (a refused handshake among them) the TLS files; the request is repeated
        once if they changed (a mounted Secret rotated under us).
        """
        try:
            return self._fetch(timeout)
        except RefreshInFlight as exc:
            # Nothing was sent and nothing is wrong with the endpoint or the TLS files:
            # translated here, so that neither is forgotten or re-read on its account.
            raise RefreshHeldBack(self._host, str(exc)) from None

    def _fetch(self, timeout: float | None) -> Token:
        budget = self._settings.timeout if timeout is None else min(timeout, self._settings.timeout)
        # One deadline for everything below: confluent-kafka waits 10 s for the first
        # token, and a budget per request would add up past that (CONTRACT §6).
        deadline = self._monotonic() + budget
        self._http.check()  # a stat per TLS file; a new client only if one changed
        try:
            return self._attempt(deadline, budget)
        except TokenRequestError as exc:
            # A handshake the server refused may be our certificate expiring while its
            # renewal sits in files the stat check could not tell apart (rewritten in
            # place within one timestamp tick): read them, whatever the failure was.
            if self._http.reload():
                logger.warning(
                    "token request to %s failed; the TLS files changed, retrying once with them",
                    self._host,
                )
                return self._attempt(deadline, budget)
            problem = self._http.problem
            if problem is None:
                raise
            # Say why the renewal did not help: the old certificate has likely expired.
            raise TokenRequestError(
                exc.endpoint_host, f"{exc.reason} (renewed TLS files not in use: {problem})"
            ) from exc

    def _attempt(self, deadline: float, budget: float) -> Token:
        token_url = self._endpoint(deadline, budget)
        try:
            return self._request(token_url, deadline, budget)
        except TokenEndpointError as exc:
            if exc.error == "invalid_client" and self._credentials_changed():
                logger.warning(
                    "token endpoint %s answered invalid_client; the credential or TLS files "
                    "changed, retrying once with them",
                    self._host,
                )
                return self._request(token_url, deadline, budget)
            if exc.status == 404:
                self._forget_discovery()
            raise
        except TokenRequestError as exc:
            # Not reached: the endpoint may have moved. Slow only: keep it, or every retry
            # spent its budget on discovery again and a slow server never gave a token.
            if not exc.timed_out:
                self._forget_discovery()
            raise

    def _credentials_changed(self) -> bool:
        # Both, always: a secret and a certificate may have rotated together.
        secret = self._auth.reload()
        certificate = self._http.reload()
        return secret or certificate

    def _request(self, token_url: str, deadline: float, budget: float) -> Token:
        form = self._grant.params()  # RefreshInFlight: see fetch()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        self._auth.apply(form, headers, token_url)
        # What this request carries, not only what is configured: a rotated refresh token
        # or a freshly signed assertion exists nowhere else, and a server may echo it.
        spellings = secret_spellings(self._settings, sent_secrets(form, headers))
        answer = self._exchange.send(
            "POST",
            token_url,
            headers,
            urlencode(form).encode(),
            deadline=deadline,
            budget=budget,
            late=self._grant.late_answer(self._host),
            secrets=spellings,
        )
        if not 200 <= answer.status < 300:
            raise self._endpoint_error(answer, spellings)
        payload = token_answer(answer.body, endpoint_host=self._host)
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

    def _endpoint_error(self, answer: Answer, spellings: list[str]) -> TokenEndpointError:
        """The refusal ``answer`` as an error; ``spellings``: the request's secrets, taken
        out of whatever the server says (it may echo the request back)."""
        error = description = None
        try:
            body = json.loads(answer.body)
        except NOT_JSON:
            body = None
        if isinstance(body, dict):
            # RFC 6749 §5.2: error (REQUIRED), error_description (OPTIONAL), both ASCII.
            raw_error, raw_description = body.get("error"), body.get("error_description")
            if not isinstance(raw_description, str):
                # What a server that does not speak §5.2 says instead: Spring's and many
                # gateways' "message", RFC 9457's "detail" (else only "HTTP 401" was left).
                raw_description = next(
                    (body[k] for k in _OTHER_DESCRIPTIONS if isinstance(body.get(k), str)), None
                )
            if isinstance(raw_error, str):
                error = _printable(redact(raw_error, spellings), 80)
            if isinstance(raw_description, str):
                description = _printable(redact(raw_description, spellings), _MAX_DESCRIPTION)
        elif body is None and answer.body.strip():
            # Not JSON (a proxy's or gateway's page): its first words, whitespace folded.
            text = " ".join(answer.body[:2048].decode("utf-8", "replace").split())
            description = _printable(redact(text, spellings), _MAX_SNIPPET)
        return TokenEndpointError(
            self._host,
            answer.status,
            error,
            description,
            retry_after=_retry_after(answer.headers.get("Retry-After"), self._clock()),
        )

    # --- discovery ---------------------------------------------------------------------
    def _endpoint(self, deadline: float, budget: float) -> str:
        with self._discovery_lock:
            if self._token_url is None:
                issuer = self._settings.issuer or ""

                def get(url: str) -> tuple[int, bytes]:
                    headers = {"Accept": "application/json"}
                    answer = self._exchange.send(
                        "GET", url, headers, None, deadline=deadline, budget=budget
                    )
                    return answer.status, answer.body

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
    if value.isascii() and value.isdigit():  # isdigit alone passes "²", which float refuses
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
