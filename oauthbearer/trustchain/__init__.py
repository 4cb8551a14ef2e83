"""Trust chain from Kafka to REST APIs: the caller's token travels in record headers.

An API gateway gives a producer the user's token; the producer attaches it to the event;
a consumer verifies it and calls downstream REST APIs as that user; the downstream
service checks it again. One library for every hop:

===============  =====================================================================
``headers``      :func:`attach_token` / :func:`read_token`, header :data:`TOKEN_HEADER`
``claims``       :class:`VerifiedClaims`: the claims, remembering the token unshown
``verifiers``    :class:`JwksVerifier` (local JWT) and :class:`IntrospectionVerifier`
                 (RFC 7662: our sidecar or any endpoint), async
``blocking``     :class:`BlockingVerifier`: a sync face on one private loop thread
``records``      :func:`verify_record` / :func:`verify_record_async`: expiry judged at
                 a broker-stamped record's timestamp plus a grace
``auth``         :class:`BearerAuth` (forward) and :class:`ExchangeAuth` +
                 :class:`TokenExchanger` (RFC 8693) for httpx
``middleware``   :class:`BearerTokenMiddleware` and :func:`claims_of` for Starlette
===============  =====================================================================

Built on ``oauthbearer.verify`` (shared with the sidecar) and ``oauthbearer.client``
(token provider, grants); it never imports ``oauthbearer.sidecar``. Failures raise
:class:`~oauthbearer.errors.TokenMissing` / :class:`~oauthbearer.errors.TokenRejected`
(both :class:`~oauthbearer.errors.TrustChainError`), or
:class:`~oauthbearer.errors.UpstreamUnavailable` when no verdict can be reached.

Example:
    >>> from oauthbearer.trustchain import attach_token, as_record, read_token
    >>> record = as_record((attach_token(None, "eyJ.a.b"), 1_700_000_000_000))
    >>> read_token(record.headers)
    'eyJ.a.b'
"""

from oauthbearer.errors import TokenMissing, TokenRejected, TrustChainError
from oauthbearer.trustchain.auth import (
    TOKEN_TYPE_ACCESS_TOKEN,
    BearerAuth,
    ExchangeAuth,
    TokenExchanger,
)
from oauthbearer.trustchain.blocking import BlockingVerifier
from oauthbearer.trustchain.claims import VerifiedClaims
from oauthbearer.trustchain.headers import TOKEN_HEADER, attach_token, read_token
from oauthbearer.trustchain.middleware import BearerTokenMiddleware, claims_of
from oauthbearer.trustchain.records import (
    KafkaRecord,
    as_record,
    verify_record,
    verify_record_async,
)
from oauthbearer.trustchain.verifiers import (
    DEFAULT_ALGORITHMS,
    IntrospectionVerifier,
    JwksVerifier,
    Verifier,
)

__all__ = [
    "DEFAULT_ALGORITHMS",
    "TOKEN_HEADER",
    "TOKEN_TYPE_ACCESS_TOKEN",
    "BearerAuth",
    "BearerTokenMiddleware",
    "BlockingVerifier",
    "ExchangeAuth",
    "IntrospectionVerifier",
    "JwksVerifier",
    "KafkaRecord",
    "TokenExchanger",
    "TokenMissing",
    "TokenRejected",
    "TrustChainError",
    "VerifiedClaims",
    "Verifier",
    "as_record",
    "attach_token",
    "claims_of",
    "read_token",
    "verify_record",
    "verify_record_async",
]
