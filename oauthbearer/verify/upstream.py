"""Delegation to the upstream authorization server's RFC 7662 introspection endpoint.

The one place httpx exceptions are translated: every failure — connect error, timeout,
non-200 status, a body that is not a JSON object, ``active`` that is not a JSON boolean —
becomes :class:`~oauthbearer.errors.UpstreamUnavailable` (→ 503, never cached). A
well-formed ``{"active": false}`` is an ordinary inactive answer.

A status other than 200 is *our* problem (wrong upstream credentials, an outage), not the
token's, so it must not look like "inactive": that would be cached and would tell the
broker the token is bad. ``active: "true"`` (a string) is a broken upstream — RFC 7662 §2.2
says ``active`` is "a boolean value" — and is refused rather than guessed.

Concurrency is bounded by a semaphore: when the upstream is slow, a queue forms here, not
thousands of sockets; waiting for a slot counts against the same short timeout.

Example:
    >>> import httpx
    >>> def handler(request):
    ...     return httpx.Response(200, json={"active": True, "sub": "app", "exp": 2000})
    >>> async def main():
    ...     async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
    ...         up = UpstreamIntrospector("https://idp.example/introspect", client=client)
    ...         return await up.introspect("some-token")
    >>> import asyncio; asyncio.run(main())
    {'active': True, 'sub': 'app', 'exp': 2000}
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from oauthbearer import _json
from oauthbearer._json import NOT_JSON
from oauthbearer._secret import SecretSource
from oauthbearer.errors import ConfigurationError, UpstreamUnavailable
from oauthbearer.verify.bounded import AnswerRefused, bounded_request

__all__ = ["UpstreamIntrospector"]


class _Failure(Exception):
    """Internal: a failed call with a metrics label, turned into UpstreamUnavailable."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


Observer = Callable[[float, str | None], None]


class UpstreamIntrospector:
    """POSTs ``token=…`` to one RFC 7662 endpoint over a shared ``httpx.AsyncClient``."""

    __slots__ = (
        "_authorization",
        "_client",
        "_observe",
        "_semaphore",
        "_timeout",
        "host",
        "last_ok",
        "url",
    )

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient,
        authorization: SecretSource | None = None,
        timeout: float = 3.0,
        max_concurrency: int = 32,
        observe: Observer | None = None,
    ) -> None:
        self.url = url
        self.host = urlsplit(url).netloc.rpartition("@")[2]  # logged: no user:password@
        self._client = client
        self._authorization = authorization
        self._timeout = timeout
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._observe = observe
        #: Outcome of the latest call (None before the first): feeds ``/readyz``.
        self.last_ok: bool | None = None

    async def introspect(self, token: str) -> dict[str, Any]:
        """The upstream's JSON object for ``token`` (``active`` guaranteed boolean)."""
        started = time.perf_counter()
        # A failure until the call is known to have succeeded: a cancellation or an
        # exception of any other kind must not leave /readyz saying the upstream is fine.
        error: str | None = "cancelled"
        try:
            async with asyncio.timeout(self._timeout):
                async with self._semaphore:
                    result = await self._call(token)
            error = None
        except TimeoutError:
            error = "timeout"
            raise UpstreamUnavailable(
                f"upstream {self.host} did not answer within {self._timeout:g} s"
            ) from None
        except _Failure as exc:
            error = exc.reason
            raise UpstreamUnavailable(exc.message) from exc.__cause__
        finally:
            self.last_ok = error is None
            if self._observe is not None and error != "cancelled":
                self._observe(time.perf_counter() - started, error)
        return result

    def _authorization_value(self, source: SecretSource) -> str:
        """The upstream ``Authorization`` value, read now (its file may have rotated).

        Stripped as the start-up check judged it (a file may end in spaces). A file that
        is momentarily unreadable, or now holds what no header can carry, fails
        this call as ``config`` (503, counted): it was a 500 with /readyz still ready.
        """
        try:
            value = source.reveal().strip(" \t")
            value.encode("ascii")
        except (ConfigurationError, UnicodeError) as exc:
            problem = exc.variable if isinstance(exc, ConfigurationError) else "not ASCII"
            raise _Failure(
                f"upstream {self.host}: its Authorization cannot be sent ({problem})", "config"
            ) from None
        return value

    async def _call(self, token: str) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if self._authorization is not None:
            headers["Authorization"] = self._authorization_value(self._authorization)
        # RFC 7662 §2.1: "application/x-www-form-urlencoded" — properly encoded, unlike
        # jairsjunior's raw body, so a '+' reaches the upstream as a '+'.
        body = "token=" + quote(token, safe="")
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            status, content = await bounded_request(
                self._client,
                "POST",
                self.url,
                content=body.encode("ascii"),
                headers=headers,
                timeout=self._timeout,
            )
        except AnswerRefused as exc:
            raise _Failure(f"upstream {self.host}: {exc}", "malformed") from None
        except httpx.TimeoutException as exc:
            raise _Failure(
                f"upstream {self.host} timed out ({type(exc).__name__})", "timeout"
            ) from exc
        except httpx.HTTPError as exc:
            raise _Failure(
                f"upstream {self.host} unreachable ({type(exc).__name__})", "connect"
            ) from exc
        if status != 200:
            raise _Failure(f"upstream {self.host} answered HTTP {status}", "status")
        try:
            # _json: RFC 8259's JSON only (no NaN, no lone surrogates, which the answer
            # to the broker could not be encoded with: that was a 500).
            data = _json.loads(content)
        except NOT_JSON:
            raise _Failure(
                f"upstream {self.host} answered with a body that is not JSON", "malformed"
            ) from None
        if not isinstance(data, dict):
            raise _Failure(
                f"upstream {self.host} answered with JSON that is not an object", "malformed"
            )
        if not isinstance(data.get("active"), bool):
            raise _Failure(f"upstream {self.host} answered without a boolean 'active'", "malformed")
        return data
