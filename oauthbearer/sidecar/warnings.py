"""Warnings the sidecar gives at start-up and ``oauthbearer check`` repeats, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oauthbearer.sidecar.settings import SidecarSettings

__all__ = ["ANY_ISSUER_WARNING", "LOCAL_ONLY_WARNING", "start_up_warnings"]

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


def start_up_warnings(settings: SidecarSettings) -> list[str]:
    """The warnings ``settings`` call for (logged at start-up, listed by ``check``).

    Example:
        >>> from oauthbearer.sidecar.settings import SidecarSettings
        >>> start_up_warnings(SidecarSettings(jwks_url="https://idp.example/jwks")) == [
        ...     ANY_ISSUER_WARNING]
        True
    """
    warnings = []
    if settings.webhooks and settings.revocations_topic is None:
        warnings.append(LOCAL_ONLY_WARNING)
    if settings.jwks_url is not None and settings.issuer is None:
        warnings.append(ANY_ISSUER_WARNING)
    return warnings
