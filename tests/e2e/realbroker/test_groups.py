"""The principal and groups Strimzi's real validator ends up with, from a normalised answer.

The token is shaped like a Keycloak service account's (tests/idp/server.mjs gives
kafka-secretjwt a ``preferred_username`` and ``realm_access.roles``). The sidecar answers
with ``sub`` from ``preferred_username`` and ``groups`` from ``realm_access.roles``;
Strimzi reads them with ``oauth.username.claim=sub`` and ``oauth.groups.claim=$.groups``.
The broker's request log (DEBUG for ``kafka.request.logger`` only) shows the principal
it built: an ``OAuthKafkaPrincipal`` with that name and those groups.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oauthbearer.sidecar.app import create_app
from oauthbearer.sidecar.settings import SidecarSettings
from tests.e2e.conftest import STRIMZI_CALLER, DecisionRecorder, serve_inprocess, sidecar_env
from tests.e2e.realbroker.conftest import refusal
from tests.support.idp import Idp
from tests.support.realkafka import RealKafka, debug_log4j, strimzi_introspection

pytestmark = [pytest.mark.e2e, pytest.mark.realbroker]


@pytest.fixture(scope="module")
def normalising_sidecar(idp: Idp) -> Iterator[str]:
    recorder = DecisionRecorder()
    recorder.attach()
    settings = SidecarSettings.from_env(
        sidecar_env(
            idp,
            OAUTHBEARER_PRINCIPAL_CLAIM="preferred_username",
            OAUTHBEARER_GROUPS_CLAIM="realm_access.roles",
        )
    )
    server, base = serve_inprocess(create_app(settings))
    try:
        yield base
    finally:
        server.stop()
        recorder.detach()


@pytest.fixture(scope="module")
def strimzi_groups(
    kafka_bundle: Path,
    normalising_sidecar: str,
    idp: Idp,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RealKafka]:
    directory = tmp_path_factory.mktemp("strimzi-groups")
    log4j = debug_log4j(directory / "log4j2.yaml", "kafka.request.logger")
    broker = RealKafka(
        kafka_bundle,
        directory,
        name="strimzi-groups",
        plugin="strimzi",
        listener="SASL_PLAINTEXT",
        properties=strimzi_introspection(
            f"{normalising_sidecar}/oauth2/introspect",
            idp.issuer,
            *STRIMZI_CALLER,
            **{"oauth.groups.claim": "$.groups"},
        ),
        log4j_config=log4j,
    )
    broker.start()
    yield broker
    broker.stop()


def test_the_broker_principal_carries_the_normalised_name_and_groups(
    idp: Idp, strimzi_groups: RealKafka
) -> None:
    token = idp.fetch_token("secretjwt")["access_token"]
    errors, delivered = refusal(strimzi_groups, token)  # one record: accepted, not refused
    assert (errors, delivered) == ([], 1)
    log = strimzi_groups.log_text()
    principal = "OAuthKafkaPrincipal(User:service-account-kafka-secretjwt, groups: ["
    assert principal in log, log[-3000:]
    line = next(line for line in log.splitlines() if principal in line)
    groups = line.split(principal, 1)[1].split("]", 1)[0]
    assert sorted(g.strip() for g in groups.split(",")) == ["kafka-readers", "kafka-writers"]
