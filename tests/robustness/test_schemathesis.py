"""Schemathesis against the sidecar's own ``/openapi.json``, in-process (ASGI).

Every operation the document describes is called with generated requests (authenticated
half the time); every answer must be documented by the document itself and, on the
introspection routes, keep CONTRACT.md §3-4. The upstream knows GOOD_OPAQUE and nothing
else, so a generated token can never legitimately be active.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from oauthbearer._secret import Secret
from oauthbearer.sidecar.app import create_app
from tests.robustness.conftest import AUTH, GOOD_OPAQUE, active_claims, assert_contract, form_token
from tests.unit.sidecar.conftest import FakeClock, make_settings


def _upstream(request: httpx.Request) -> httpx.Response:
    if request.method == "GET":  # the JWKS: reachable, no keys (every JWT is inactive)
        return httpx.Response(200, json={"keys": []})
    if form_token(request) in GOOD_OPAQUE:
        return httpx.Response(200, json=active_claims())
    return httpx.Response(200, json={"active": False})


APP = create_app(
    make_settings(callers=Secret("broker:fake>>secret??~~")),
    http_client=httpx.AsyncClient(transport=httpx.MockTransport(_upstream)),
    clock=FakeClock(),
)
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@SCHEMA.parametrize()
@SCHEMA.given(data=st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_documented_operation_keeps_its_documented_answers(
    case: schemathesis.Case[Any], data: st.DataObject
) -> None:
    headers = dict(case.headers or {})
    if data.draw(st.booleans(), label="authenticated"):
        headers["Authorization"] = AUTH
    response = case.call(headers=headers)
    status = response.status_code
    assert status < 500 or status == 503, (status, response.text[:200])
    assert "Traceback" not in response.text
    if case.path.startswith("/oauth2/introspect"):
        pairs = [(k, v) for k, values in response.headers.items() for v in values]
        body = assert_contract(httpx.Response(status, headers=pairs, content=response.content))
        if body.get("active") is True:
            assert headers.get("Authorization") == AUTH
    documented = case.operation.definition.raw["responses"]
    assert str(status) in documented, (case.path, status)
