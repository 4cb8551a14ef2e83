"""Fuzzing the revocation webhooks: any body, any credentials, answered within the contract.

POST /events/keycloak, /events/fusionauth and /revocations take JSON from an identity
provider. Whatever arrives: 200, 400, 401 or 413 with a JSON body and never a trace; a
request that is refused (400, 401, 413) changes nothing; only the webhook's own
credentials are accepted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import respx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import RSAKey

from oauthbearer._secret import Secret
from tests.robustness.conftest import SyncSidecar, upstream_world
from tests.unit.sidecar.conftest import FakeClock, make_settings

EVENT_ID, EVENT_SECRET = "keycloak", "fake-fuzz-webhook-secret"
GOOD_AUTH = "Basic " + base64.b64encode(f"{EVENT_ID}:{EVENT_SECRET}".encode()).decode()
PATHS = ["/events/keycloak", "/events/fusionauth", "/revocations"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
# Shapes close to the real events, so the parsers' deeper branches are reached too.
EVENTISH = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["LOGOUT", "REVOKE_GRANT", "UPDATE_PASSWORD", "x"]) | JSON,
        "userId": st.text(max_size=12) | JSON,
        "uid": st.text(max_size=12) | st.integers() | JSON,
        "id": st.text(max_size=12) | JSON,
        "time": st.integers() | JSON,
        "resourcePath": st.sampled_from(["users/u-1", "users/", "clients/c", "logout-all"]) | JSON,
        "representation": st.sampled_from(['{"notBefore": 1767225000}', '{"notBefore": 0}']) | JSON,
        "operationType": st.sampled_from(["DELETE", "ACTION", "UPDATE"]) | JSON,
        "event": st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["user.delete", "user.deactivate", "y"]) | JSON,
                "userId": st.text(max_size=12) | JSON,
                "applicationId": st.text(max_size=12) | JSON,
                "user": st.dictionaries(st.sampled_from(["id", "active"]), JSON),
                "createInstant": st.integers() | JSON,
                "id": st.text(max_size=12) | JSON,
            },
        ),
        "sub": st.text(max_size=12) | JSON,
        "jti": st.text(max_size=12) | JSON,
        "token": st.text(max_size=40) | JSON,
        "exp": st.integers() | JSON,
        "all": st.booleans() | JSON,
    },
)
BODIES = st.one_of(
    st.binary(max_size=512),
    JSON.map(lambda v: json.dumps(v).encode()),
    EVENTISH.map(lambda v: json.dumps(v).encode()),
    st.lists(EVENTISH, max_size=3).map(lambda v: json.dumps(v).encode()),
)
AUTHS = st.one_of(
    st.just(GOOD_AUTH),
    st.none(),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    st.sampled_from(
        ["Basic " + base64.b64encode(b"keycloak:wrong").decode(), "Bearer " + EVENT_SECRET]
    ),
)


@pytest.fixture(scope="module")
def sidecar(rsa_key: RSAKey) -> Iterator[SyncSidecar]:
    router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
    upstream_world(router, rsa_key)
    settings_ = make_settings(event_callers=Secret(f"{EVENT_ID}:{EVENT_SECRET}"))
    app = SyncSidecar(settings_, router, FakeClock())
    yield app
    app.close()


def _store_size(sidecar: SyncSidecar) -> int:
    state: Any = sidecar.harness.app.state
    return len(state.sidecar.revocations.store)


@FUZZ
@given(body=BODIES, authorization=AUTHS, path=st.sampled_from(PATHS))
def test_any_event_request_is_answered_within_the_contract(
    sidecar: SyncSidecar, body: bytes, authorization: str | None, path: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    before = _store_size(sidecar)
    response = sidecar.post(body, headers=headers, path=path)
    assert response.status_code in {200, 400, 401, 413}, (response.status_code, response.text)
    assert "Traceback" not in response.text
    assert response.headers["content-type"].startswith("application/json")
    json.loads(response.content)
    if response.status_code == 401:
        assert authorization != GOOD_AUTH
        assert response.headers["www-authenticate"].startswith("Basic ")
    if response.status_code != 200:
        assert _store_size(sidecar) == before  # refused: nothing changed
    else:
        assert authorization == GOOD_AUTH


def test_a_valid_event_with_the_webhook_credentials_is_applied(sidecar: SyncSidecar) -> None:
    before = _store_size(sidecar)
    body = json.dumps({"sub": "fuzz-companion-principal"}).encode()
    response = sidecar.post(
        body,
        headers={"Content-Type": "application/json", "Authorization": GOOD_AUTH},
        path="/revocations",
    )
    assert response.status_code == 200, response.text
    assert _store_size(sidecar) == before + 1
