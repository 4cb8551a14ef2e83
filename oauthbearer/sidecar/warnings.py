"""Warnings the sidecar gives at start-up and ``oauthbearer check`` repeats, in one place."""

from __future__ import annotations

__all__ = ["ANY_ISSUER_WARNING", "LOCAL_ONLY_WARNING"]

#: Webhooks without a topic to share their revocations on.
LOCAL_ONLY_WARNING = (
    "revocation webhooks without OAUTHBEARER_REVOCATIONS_TOPIC: a revocation posted here "
    "reaches only this process and does not survive its restart; with more than one "
    "replica, set OAUTHBEARER_REVOCATIONS_TOPIC (and OAUTHBEARER_EVENTS_BOOTSTRAP_SERVERS)"
)

#: A JWKS without an issuer to require: keys can be shared beyond one issuer (Entra ID's
#: "common" keys sign every tenant's tokens), and Strimzi's validator refuses to start
#: without ``oauth.valid.issuer.uri`` unless told not to check it.
ANY_ISSUER_WARNING = (
    "OAUTHBEARER_JWKS_URL without OAUTHBEARER_ISSUER: a JWT signed by any key of that "
    "JWKS is accepted whatever its 'iss' (with keys shared between tenants, another "
    "tenant's tokens too); set OAUTHBEARER_ISSUER to the issuer your tokens carry"
)
