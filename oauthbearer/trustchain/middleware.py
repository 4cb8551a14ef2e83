"""Resource-server side: a Starlette (pure ASGI) middleware that checks bearer tokens.

The downstream REST service validates what the consumer forwards with the same verifiers
(:class:`JwksVerifier` / :class:`IntrospectionVerifier`), so one library covers the chain.
Answers follow RFC 6750 §3:

* no ``Authorization`` header → 401 with ``WWW-Authenticate: Bearer realm="…"`` and no
  error code (§3.1: "If the request lacks any authentication information …, the resource
  server SHOULD NOT include an error code");
* not a single ``Bearer`` credential → 400 ``error="invalid_request"``;
* a token that fails verification → 401 ``error="invalid_token"`` with a short
  ``error_description`` (the reason, never the token);
* a valid token without every one of ``required_scopes`` → 403 ``error="insufficient_scope"``
  with the ``scope`` it needs (§3.1: "The resource server SHOULD respond with the HTTP 403
  (Forbidden) status code and MAY include the "scope" attribute");
* a verifier with no verdict (JWKS or introspection down) → 503, not a 401: the token
  may be fine.

The endpoint reads the claims with :func:`claims_of` (``request.state.claims``).
WebSocket connections without a valid token are closed (1008) before they are accepted.

Example:
    >>> from starlette.applications import Starlette
    >>> from oauthbearer.trustchain.verifiers import JwksVerifier
    >>> verifier = JwksVerifier("https://idp.example/jwks", issuer="https://idp.example",
    ...                         audiences="urn:orders")
    >>> app = Starlette()
    >>> app.add_middleware(BearerTokenMiddleware, verifier=verifier, realm="orders")
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from oauthbearer._numeric_date import tolerance
from oauthbearer.errors import TokenRejected, UpstreamUnavailable
from oauthbearer.trustchain.claims import VerifiedClaims
from oauthbearer.trustchain.verifiers import Verifier

__all__ = ["BearerTokenMiddleware", "claims_of"]

logger = logging.getLogger("oauthbearer.trustchain")

_STATE_KEY = "claims"
# RFC 6750 §3: error_description is %x20-21 / %x23-5B / %x5D-7E (no '"', no '\').
_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def claims_of(connection: HTTPConnection) -> VerifiedClaims:
    """The verified claims the middleware attached to this request.

    Raises LookupError when the middleware did not run for it (an exempt path).
    """
    claims = connection.scope.get("state", {}).get(_STATE_KEY)
    if not isinstance(claims, VerifiedClaims):
        # Absent, not of a wrong type: the middleware did not run for this path.
        raise LookupError("no verified claims: is BearerTokenMiddleware installed?")  # noqa: TRY004
    return claims


class BearerTokenMiddleware:
    """Let a request through only with a valid bearer token; ``exempt`` paths skip it.

    ``leeway`` (seconds) overrides the verifier's clock skew; judging is always at now.
    ``required_scopes``: scopes every request must carry (finer checks per endpoint read
    ``claims_of(request).scopes``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Verifier,
        realm: str = "api",
        exempt: Collection[str] = (),
        leeway: float | None = None,
        required_scopes: Collection[str] = (),
    ) -> None:
        self.app = app
        bad = [s for s in required_scopes if not s or _UNSAFE.search(s) or " " in s]
        if bad:
            raise ValueError(f"required_scopes: not scope tokens (RFC 6749 §3.3): {bad!r}")
        self._required = frozenset(required_scopes)
        self._verifier = verifier
        self._realm = _UNSAFE.sub("", realm)
        self._exempt = frozenset(exempt)
        self._leeway = None if leeway is None else tolerance("leeway", leeway)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self._exempt:
            await self.app(scope, receive, send)
            return
        values = Headers(scope=scope).getlist("authorization")
        if not values:
            await self._refuse(scope, receive, send, 401, None, None)
            return
        scheme, _, token = values[0].partition(" ")
        # RFC 7235 §2.1: the auth-scheme is case-insensitive. RFC 6750 §3.1: a request
        # that "attempted using an unsupported authentication method" (Basic, say) has no
        # bearer credentials at all, so it gets the bare challenge that asks for them,
        # not a 400 that a client would take as final.
        if len(values) == 1 and scheme.lower() != "bearer":
            await self._refuse(scope, receive, send, 401, None, None)
            return
        if len(values) > 1 or not token.strip():
            detail = "expected exactly one Authorization: Bearer <token>"
            await self._refuse(scope, receive, send, 400, "invalid_request", detail)
            return
        try:
            claims = await self._verifier.verify(token.strip(), leeway=self._leeway)
        except TokenRejected as exc:
            logger.info("bearer token refused: %s", exc)
            await self._refuse(scope, receive, send, 401, "invalid_token", exc.detail)
            return
        except UpstreamUnavailable as exc:
            logger.warning("bearer token not verifiable now: %s", exc)
            await self._refuse(scope, receive, send, 503, None, None)
            return
        missing = self._required - claims.scopes
        if missing:
            logger.info(
                "bearer token %s lacks scope(s) %s", claims.fingerprint, " ".join(sorted(missing))
            )
            await self._refuse(
                scope,
                receive,
                send,
                403,
                "insufficient_scope",
                None,
                " ".join(sorted(self._required)),
            )
            return
        scope.setdefault("state", {})[_STATE_KEY] = claims
        await self.app(scope, receive, send)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        error: str | None,
        description: str | None,
        needed_scope: str | None = None,
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if status == 503:
            response = JSONResponse(
                {"error": "temporarily_unavailable"}, status_code=503, headers={"Retry-After": "5"}
            )
            await response(scope, receive, send)
            return
        challenge = f'Bearer realm="{self._realm}"'
        if error is not None:
            challenge += f', error="{error}"'
        if description:
            challenge += f', error_description="{_UNSAFE.sub("", description)[:200]}"'
        if needed_scope:
            challenge += f', scope="{needed_scope}"'
        body = {"error": error or "unauthorized"}
        if description:
            body["error_description"] = description
        response = JSONResponse(body, status_code=status, headers={"WWW-Authenticate": challenge})
        await response(scope, receive, send)
