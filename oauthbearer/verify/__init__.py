"""Token verification shared by the sidecar and the trust chain.

Neither ``oauthbearer.client`` nor ``oauthbearer.sidecar`` is imported here, so both
halves (and ``oauthbearer.trustchain``) can build on it without importing each other.

* :class:`JwksStore` — the authorization server's signing keys, kept fresh.
* :class:`JwtValidator` / :class:`InvalidJwt` — local JWT verification (RFC 7519).
* :class:`UpstreamIntrospector` — an RFC 7662 introspection client.
"""

from oauthbearer.verify.jwks import JwksStore
from oauthbearer.verify.jwt_validator import InvalidJwt, JwtValidator
from oauthbearer.verify.upstream import UpstreamIntrospector

__all__ = ["InvalidJwt", "JwksStore", "JwtValidator", "UpstreamIntrospector"]
