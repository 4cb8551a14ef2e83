"""The test authorization server itself behaves as the other tests assume."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.idp import JWT_RESOURCE, Idp, IdpFactory

pytestmark = pytest.mark.integration


def test_basic_client_gets_a_jwt_signed_by_the_published_key(idp: Idp) -> None:
    import httpx

    body = idp.fetch_token("basic")
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int)
    keys = KeySet.import_key_set(httpx.get(idp.jwks_url, timeout=5).json())
    token = jwt.decode(body["access_token"], keys)
    assert token.header["kid"] == idp.kid
    assert token.claims["sub"] == "kafka-basic"
    assert token.claims["aud"] == JWT_RESOURCE
    assert token.claims["iss"] == idp.issuer


def test_opaque_token_introspects_active_with_sub_then_inactive_after_revocation(
    idp: Idp,
) -> None:
    token = idp.fetch_token("opaque")["access_token"]
    assert token.count(".") == 0
    active = idp.introspect(token)
    assert active["active"] is True
    assert active["sub"] == "kafka-opaque"
    assert active["scope"] == "kafka"
    idp.revoke(token)
    assert idp.introspect(token) == {"active": False}


def test_restart_rotates_the_signing_key_on_the_same_port(idp_factory: IdpFactory) -> None:
    server = idp_factory(access_token_ttl=10)
    port, kid = server.port, server.kid
    assert server.fetch_token("post")["expires_in"] == 10
    server.restart()
    assert server.port == port
    assert server.kid != kid
    server.stop()
    assert not server.running
