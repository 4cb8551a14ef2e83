"""Everything `oauthbearer serve` writes is a JSON line, its configuration summary included,
and a 401's line says why without quoting what was sent.

A log shipper that parses JSON lines (Fluent Bit's json parser, Loki's json stage) rejected
the summary `serve` printed as plain text before its first record. Real parts: an
`oauthbearer serve` process as an operator runs it, the real IdP, a JWT and an opaque token.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oauthbearer import _compiled
from tests.support.idp import JWT_RESOURCE, Idp
from tests.support.sidecar_process import SidecarProcess

pytestmark = pytest.mark.integration

CALLER = ("broker", "fake-log-lines-secret")


@pytest.fixture
def sidecar(idp: Idp, tmp_path: Path) -> Iterator[SidecarProcess]:
    env = {
        **idp.introspect_env(),
        "OAUTHBEARER_JWKS_URL": idp.jwks_url,
        "OAUTHBEARER_AUDIENCE": JWT_RESOURCE,  # no OAUTHBEARER_ISSUER: a start-up warning
        "OAUTHBEARER_CALLERS": ":".join(CALLER),
    }
    process = SidecarProcess("log-lines", env, tmp_path).start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.close()


def _records(log: Path) -> list[dict[str, Any]]:
    records = []
    for line in log.read_text().splitlines():
        record = json.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(record, dict), line
        records.append(record)
    return records


def test_every_line_serve_writes_is_json(idp: Idp, sidecar: SidecarProcess) -> None:
    jwt = idp.fetch_token("basic")["access_token"]
    opaque = idp.fetch_token("opaque")["access_token"]
    assert sidecar.introspect(jwt, CALLER)["active"] is True
    assert sidecar.introspect(opaque, CALLER)["active"] is True
    stale = sidecar.client.post(
        "/oauth2/introspect", data={"token": jwt}, auth=(CALLER[0], "fake-stale-secret")
    )
    schemeless = sidecar.client.post(
        "/oauth2/introspect", data={"token": jwt}, headers={"Authorization": jwt}
    )
    assert stale.status_code == schemeless.status_code == 401
    sidecar.stop()  # SIGTERM: shutdown's lines and the last cache-hit summary too

    records = _records(sidecar.log_path)
    [configuration] = [r for r in records if r["message"] == "configuration"]
    assert configuration["level"] == "INFO"
    assert configuration["summary"][0] == f"sidecar: listening on 127.0.0.1:{sidecar.port}"
    # Which build serves: the compiled wheel in scripts/check-compiled's run, else the source.
    compiled = os.environ.get("OAUTHBEARER_TEST_COMPILED") == "1"
    expected = f"compiled ({len(_compiled.MODULES)} modules, mypyc)" if compiled else "pure Python"
    assert configuration["build"] == expected
    assert any(line.startswith("callers: Basic broker;") for line in configuration["summary"])
    # The start-up warning is its own WARNING record, not repeated in the summary.
    assert not any("WARNING" in line for line in configuration["summary"])
    warnings = [r["message"] for r in records if r["level"] == "WARNING"]
    assert any("OAUTHBEARER_ISSUER" in message for message in warnings), warnings
    sources = {r["source"] for r in records if r["message"] == "decision"}
    assert {"jwks", "upstream"} <= sources
    # A 401's line says which of our brokers holds a stale secret, and quotes nothing sent.
    refusals = [r["reason"] for r in records if r.get("result") == "unauthorized"]
    assert refusals == [
        "caller not authenticated: wrong secret for caller 'broker'",
        "caller not authenticated: an unsupported scheme",
    ]
    text = sidecar.log_path.read_text()
    for secret in (jwt, opaque, CALLER[1], "fake-stale-secret"):
        assert secret not in text
